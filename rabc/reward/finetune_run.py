"""What a scorer fine-tune is measured by and reports: the stage settings (:class:`StageConfig`), the scorer's VOC,
success AUC and static-frame bias on evaluation episodes (:func:`evaluate_scorer`, :func:`evaluate_splits`), the
chance-level reference (:func:`random_reference`) and the before/after report (:func:`write_report`). The training
stage itself is rabc.app.finetune_scorer.finetune_stage (Lightning).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rabc.io import atomic_write, write_json
from rabc.reward.finetune import stamps_fps
from rabc.reward.topreward import TopRewardScorer

logger = logging.getLogger(__name__)

SPLITS = ("val", "heldout")  # held-out episodes of training tasks; episodes of held-out tasks
LR_SCHEDULES = ("constant", "cosine")  # a stage's learning rate: constant, or decayed to 0 over its steps


@dataclass
class StageConfig:
    """One training stage; keys equal the config file's ``stage`` keys."""

    mode: str = "lora"  # "lora" | "full"
    objective: str = "regression+ranking"
    steps: int = 200
    groups_per_step: int = 4
    anchors_per_group: int | None = 6
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "constant" | "cosine" (lr decays to 0 over the stage's steps)
    weight_decay: float = 0.0
    vision_lr_mult: float = 1.0  # learning-rate multiplier of the vision tower (see train_scorer)
    static_negatives: bool = True
    reverse_negatives: bool = (
        False  # episodes played backwards: breaks the "longer prefix scores higher" shortcut
    )
    early_fraction: float = 0.34
    regression_floor: float = 0.05
    contrast_margin: float = 1.0  # "contrast" / "progress": log-prob margin per unit of oracle-progress gap
    contrast_min_gap: float = 0.2  # ... between variants / anchors whose progress differs by at least this
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_vision: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("lora", "full"):
            raise ValueError(f"stage mode must be 'lora' or 'full', got {self.mode!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"stage lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.steps < 1 or self.groups_per_step < 1:
            raise ValueError("steps and groups_per_step must be >= 1")


def evaluate_splits(
    scorer: TopRewardScorer, root: str | Path, splits: dict[str, list[int]], show_progress: bool = False
) -> dict:
    """:func:`evaluate_scorer` on each evaluation split present in ``splits`` (``SPLITS``)."""
    t0 = time.perf_counter()
    res = {
        name: evaluate_scorer(
            scorer, root, splits[name], show_progress=show_progress, desc=f"evaluate {name}"
        )
        for name in SPLITS
        if splits.get(name)
    }
    logger.info("evaluated in %.1f s", time.perf_counter() - t0)
    return res


def random_reference(root: str | Path, splits: dict[str, list[int]], num_anchors: int | None = 15) -> dict:
    """VOC of the chance-level :class:`~rabc.reward.baselines.RandomScorer` on the evaluation splits: the floor
    a learned scorer must clearly beat (it reads no frames, so it has no static-frame figures)."""
    from rabc.data import episode_table
    from rabc.metrics import voc
    from rabc.reward.baselines import RandomScorer

    lengths = episode_table(root).set_index("episode_index")["length"]
    rnd = RandomScorer(num_anchors=num_anchors)
    res = {}
    for name in SPLITS:
        eps = [int(e) for e in splits.get(name, [])]
        if eps:
            v = [
                voc(rnd.score_episode(np.empty(int(lengths[e])), fps=1.0, episode_index=e).logp_true)
                for e in eps
            ]
            res[name] = {"episodes": eps, "voc": float(np.nanmean(v)), "voc_per_episode": v}
    return res


def summary(result: dict) -> str:
    """One line of before/after figures of a stage result."""
    parts = []
    for when in ("before", "after"):
        for split, m in result.get(when, {}).items():
            parts.append(
                f"{when}/{split}: VOC {m['voc']:.3f} AUC {m['success_auc']:.3f} "
                f"frame AUC {m.get('frame_auc', float('nan')):.3f} static {m['static_voc']:.3f}"
            )
    return "; ".join(parts)


def markdown_table(stages: dict[str, dict], reference: dict | None = None) -> str:
    """Before/after table: one row per (stage, when, split) with VOC, success AUC, frame AUC, static-frame VOC and
    static rise ratio, episodes; ``reference`` (:func:`random_reference`) adds the chance-level rows."""
    lines = [
        "| stage | when | split | episodes | VOC | success AUC | frame AUC | static-frame VOC "
        "| static rise / real rise |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split, m in (reference or {}).items():
        lines.append(
            f"| random scorer | – | {split} | {len(m['episodes'])} | {m['voc']:.3f} | – | – | – | – |"
        )
    for stage, res in stages.items():
        for when in ("before", "after"):
            for split, m in res.get(when, {}).items():
                lines.append(
                    f"| {stage} | {when} | {split} | {len(m['episodes'])} | {m['voc']:.3f} | "
                    f"{m['success_auc']:.3f} | {m.get('frame_auc', float('nan')):.3f} | {m['static_voc']:.3f} | "
                    f"{m.get('static_rise_ratio', float('nan')):.3f} |"
                )
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, report: dict, title: str) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` (the before/after table) atomically under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    md = [f"# {title}\n", markdown_table(report["stages"], report.get("random_reference"))]
    if report.get("members"):  # the recipe from several model seeds, one kept (rabc.app.indomain_scorer)
        kept = report["selected"]["member"]
        md.append(
            f"\nMembers (kept: model seed {report['selected']['model_seed']}, {report['selected']['rule']}):\n\n"
        )
        md.append("| model seed | val frame AUC | kept |\n|---|---|---|\n")
        md += [
            f"| {m['model_seed']} | {m['val_frame_auc']:.3f} | {'yes' if i == kept else ''} |\n"
            for i, m in enumerate(report["members"])
        ]
    md += [f"\n**Warning:** {w}\n" for w in report.get("warnings", [])]
    md.append(
        "\nsplits: `val` = held-out episodes of the training tasks, `heldout` = episodes of held-out tasks. "
        "VOC = mean Spearman of raw log p(True) vs prefix order; success AUC = ROC-AUC of the mean raw log p over "
        "the last 3 prefixes (NaN when a split has a single class); frame AUC = ROC-AUC of the progress gained over "
        "the next 1 s for good vs bad (give-up, wrong-target, push-away, detour, pause) frames; static-frame VOC = "
        "VOC on the first frame repeated (constant scores count as 0; unbiased ≈ 0; it sees only the sign of a "
        "drift); static rise / real rise = mean (last − first) raw log p of the static clip over the mean "
        "|last − first| of the real clip "
        "(the share of the score's movement that a static clip reproduces: ≈ 0 unbiased, ≈ 1 pure length bias).\n"
    )
    with atomic_write(out / "report.md", mode="w") as f:
        f.write("".join(md))
    return out / "report.json", out / "report.md"


def evaluate_scorer(
    scorer: TopRewardScorer,
    root: str | Path,
    episodes: Sequence[int],
    *,
    static: bool = True,
    frame_horizon_s: float = 1.0,
    show_progress: bool = False,
    desc: str = "evaluate",
) -> dict:
    """VOC, success AUC, frame AUC and static-frame bias of ``scorer`` on ``episodes`` (PAPER.md §2, §1 bias check).

    Returns {"episodes", "voc" (mean over episodes with a defined VOC), "voc_per_episode", "voc_nan" (count),
    "success_auc" (NaN when the split has a single class), "frame_auc" (ROC-AUC of the progress gained over the
    next ``frame_horizon_s`` — the tempered TOP-AWR recipe's horizon — for good vs bad frames, the generator's
    detour / give-up / wrong-target / push-away / pause segments; NaN without its sidecar), "static_voc" (mean;
    constant scores count as 0, the unbiased value), "static_voc_per_episode", "rise_per_episode" /
    "static_rise_per_episode" (last − first raw log p of the real / static clip, nats) and "static_rise_ratio" (mean
    static rise / mean |real rise|: the share of the score's movement a static clip reproduces; ≈ 0 unbiased, ≈ 1
    for a pure length bias)}.

    Static-frame VOC alone only sees the sign of a drift: a static clip whose score moves by 1e-3 nats scores
    the same VOC as one that moves by 10 nats, hence the magnitude beside it.
    """
    from tqdm.auto import tqdm

    from rabc.data import episode_table, read_episode_frames
    from rabc.data.segments import bad_frames, frame_labels
    from rabc.metrics import success_auc, success_score, voc
    from rabc.metrics.scorer_quality import EpisodeCurves, frame_auc
    from rabc.weighting import horizon_frames

    table = episode_table(root).set_index("episode_index")
    segments = frame_labels(root)  # None without the generator's sidecar: no frame AUC
    vocs, succ_scores, labels, statics, rises, static_rises = [], [], [], [], [], []
    curves, fps = [], float("nan")
    for ep in tqdm(list(episodes), desc=desc, disable=not show_progress):
        row = table.loc[int(ep)]
        frames, stamps = read_episode_frames(root, int(ep))  # (T, H, W, 3) uint8
        fps, task = stamps_fps(stamps), str(row["task"])  # fps: the frame AUC horizon's too
        s = scorer.score_episode(frames, fps=fps, instruction=task)
        vocs.append(voc(s.logp_true))
        rises.append(float(s.logp_true[-1] - s.logp_true[0]))
        succ_scores.append(success_score(s.logp_true))
        labels.append(bool(row["success"]))
        if segments is not None:
            bad = bad_frames(segments, int(row["from_index"]), len(frames))
            curves.append(EpisodeCurves(s.progress, s.logp_true, bool(row["success"]), bad))
        if static:  # the episode's first frame repeated, same length, fps and instruction
            still = _raw_scores(scorer, np.broadcast_to(frames[0], frames.shape), fps=fps, instruction=task)
            statics.append(voc(still, constant="zero"))
            static_rises.append(float(still[-1] - still[0]))
    v = np.asarray(vocs, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    auc = success_auc(np.asarray(succ_scores), y) if 0 < y.sum() < len(y) else float("nan")
    scale = float(np.mean(np.abs(rises))) if rises else float("nan")
    auc_frames = frame_auc(curves, horizon_frames(frame_horizon_s, fps)) if curves else float("nan")
    return {
        "episodes": [int(e) for e in episodes],
        "voc": float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"),
        "voc_per_episode": v.tolist(),
        "voc_nan": int(np.isnan(v).sum()),
        "success_auc": auc,
        "frame_auc": auc_frames,
        "success_rate": float(y.mean()) if len(y) else float("nan"),
        "static_voc": float(np.mean(statics)) if statics else float("nan"),
        "static_voc_per_episode": [float(x) for x in statics],
        "rise_per_episode": rises,
        "static_rise_per_episode": static_rises,
        "static_rise_ratio": float(np.mean(static_rises)) / scale
        if static_rises and scale > 0
        else float("nan"),
    }


def _raw_scores(scorer: TopRewardScorer, frames: np.ndarray, *, fps: float, instruction: str) -> np.ndarray:
    """(K,) raw log p(" True") of a (static) clip (T, H, W, 3); copies the read-only broadcast view."""
    return scorer.score_episode(np.ascontiguousarray(frames), fps=fps, instruction=instruction).logp_true
