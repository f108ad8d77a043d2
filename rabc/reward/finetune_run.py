"""The fine-tuning runs behind ``scripts/finetune_scorer.py`` and ``scripts/make_indomain_scorer.py``.

:func:`finetune_stage` trains one stage (``mode="lora"`` on a peft wrapper, or ``mode="full"`` on every weight),
evaluates the scorer before and after on the validation episodes of the training tasks and on the held-out
tasks, and saves the result (peft adapter, or a full ``save_pretrained`` model directory).
:func:`write_report` writes the before/after figures as JSON and markdown.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rabc.io import atomic_write, write_json
from rabc.reward.finetune import build_groups, evaluate_scorer, train_scorer
from rabc.reward.lora import add_lora, save_adapter
from rabc.reward.topreward import TopRewardScorer

logger = logging.getLogger(__name__)

SPLITS = ("val", "heldout")  # held-out episodes of training tasks; episodes of held-out tasks


@dataclass
class StageConfig:
    """One training stage; keys equal the config file's ``stage`` keys."""

    mode: str = "lora"  # "lora" | "full"
    objective: str = "regression+ranking"
    steps: int = 200
    groups_per_step: int = 4
    anchors_per_group: int | None = 6
    lr: float = 1e-3
    weight_decay: float = 0.0
    vision_lr_mult: float = 1.0  # learning-rate multiplier of the vision tower (see train_scorer)
    static_negatives: bool = True
    reverse_negatives: bool = (
        False  # episodes played backwards: breaks the "longer prefix scores higher" shortcut
    )
    early_fraction: float = 0.34
    regression_floor: float = 0.05
    contrast_margin: float = 1.0  # "contrast" objective: log-prob margin per unit of oracle-progress gap
    contrast_min_gap: float = 0.2  # ... between equal-length variants whose progress differs by at least this
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_vision: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("lora", "full"):
            raise ValueError(f"stage mode must be 'lora' or 'full', got {self.mode!r}")
        if self.steps < 1 or self.groups_per_step < 1:
            raise ValueError("steps and groups_per_step must be >= 1")


def finetune_stage(
    scorer: TopRewardScorer,
    root: str | Path,
    splits: dict[str, list[int]],
    stage: StageConfig,
    out_dir: str | Path,
    *,
    evaluate_before: bool = True,
    show_progress: bool = False,
) -> dict:
    """Train ``scorer.adapter.model`` in place on ``splits["train"]``; evaluate before/after; save to ``out_dir``.

    LoRA: the adapter is saved with ``save_pretrained`` under ``out_dir`` (its hash in the result) and left
    unmerged in ``scorer.adapter.model`` (the base model with LoRA layers injected). Full: the whole model and its
    processor are saved to ``out_dir`` in the ``from_pretrained`` layout.
    """
    out = Path(out_dir)
    result: dict = {"stage": asdict(stage), "train_episodes": list(map(int, splits["train"]))}
    if evaluate_before:
        result["before"] = _evaluate(scorer, root, splits, show_progress)
    groups = build_groups(
        scorer, root, splits["train"], static=stage.static_negatives, reverse=stage.reverse_negatives,
        show_progress=show_progress,
    )  # fmt: skip
    model = scorer.adapter.model
    peft_model = None
    if stage.mode == "lora":
        peft_model = add_lora(
            model, r=stage.lora_r, alpha=stage.lora_alpha, dropout=stage.lora_dropout,
            vision=stage.lora_vision, seed=stage.seed,
        )  # fmt: skip
        model = peft_model
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    trained = train_scorer(
        model, groups, scorer.answer_ids[0], objective=stage.objective, steps=stage.steps,
        groups_per_step=stage.groups_per_step, anchors_per_group=stage.anchors_per_group, lr=stage.lr,
        weight_decay=stage.weight_decay, vision_lr_mult=stage.vision_lr_mult, seed=stage.seed, early_fraction=stage.early_fraction,
        regression_floor=stage.regression_floor, contrast_margin=stage.contrast_margin,
        contrast_min_gap=stage.contrast_min_gap, show_progress=show_progress,
    )  # fmt: skip
    for p in scorer.adapter.model.parameters():
        p.requires_grad_(False)
    loss = np.asarray(trained.losses)
    head, tail = max(1, len(loss) // 10), max(1, len(loss) // 10)
    result["train"] = {
        "seconds": trained.seconds, "steps": trained.steps, "prefix_groups": len(groups),
        "loss_first": float(loss[:head].mean()), "loss_last": float(loss[-tail:].mean()),
    }  # fmt: skip
    if peft_model is not None:
        scorer.adapter.model = peft_model.get_base_model().eval()
        result["adapter_dir"] = str(out)
        result["adapter_hash"] = save_adapter(peft_model, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        scorer.adapter.model.save_pretrained(out)
        scorer.adapter.processor.save_pretrained(out)
        result["model_dir"] = str(out)
    result["after"] = _evaluate(scorer, root, splits, show_progress)
    logger.info("stage %s done in %.0f s: %s", stage.mode, trained.seconds, _summary(result))
    return result


def _evaluate(scorer: TopRewardScorer, root, splits: dict[str, list[int]], show_progress: bool) -> dict:
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
            v = [voc(rnd.score_episode(np.empty(int(lengths[e])), fps=1.0, episode_index=e).logp_true) for e in eps]
            res[name] = {"episodes": eps, "voc": float(np.nanmean(v)), "voc_per_episode": v}
    return res


def _summary(result: dict) -> str:
    parts = []
    for when in ("before", "after"):
        for split, m in result.get(when, {}).items():
            parts.append(
                f"{when}/{split}: VOC {m['voc']:.3f} AUC {m['success_auc']:.3f} static {m['static_voc']:.3f}"
            )
    return "; ".join(parts)


def markdown_table(stages: dict[str, dict], reference: dict | None = None) -> str:
    """Before/after table: one row per (stage, when, split) with VOC, success AUC, static-frame VOC and static
    rise ratio, episodes; ``reference`` (:func:`random_reference`) adds the chance-level rows."""
    lines = [
        "| stage | when | split | episodes | VOC | success AUC | static-frame VOC | static rise / real rise |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split, m in (reference or {}).items():
        lines.append(f"| random scorer | – | {split} | {len(m['episodes'])} | {m['voc']:.3f} | – | – | – |")
    for stage, res in stages.items():
        for when in ("before", "after"):
            for split, m in res.get(when, {}).items():
                lines.append(
                    f"| {stage} | {when} | {split} | {len(m['episodes'])} | {m['voc']:.3f} | "
                    f"{m['success_auc']:.3f} | {m['static_voc']:.3f} | {m.get('static_rise_ratio', float('nan')):.3f} |"
                )
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, report: dict, title: str) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` (the before/after table) atomically under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    md = [f"# {title}\n", markdown_table(report["stages"], report.get("random_reference"))]
    md.append(
        "\nsplits: `val` = held-out episodes of the training tasks, `heldout` = episodes of held-out tasks. "
        "VOC = mean Spearman of raw log p(True) vs prefix order; success AUC = ROC-AUC of the mean raw log p over "
        "the last 3 prefixes (NaN when a split has a single class); static-frame VOC = VOC on the first frame "
        "repeated (constant scores count as 0; unbiased ≈ 0; it sees only the sign of a drift); static rise / real "
        "rise = mean (last − first) raw log p of the static clip over the mean |last − first| of the real clip "
        "(the share of the score's movement that a static clip reproduces: ≈ 0 unbiased, ≈ 1 pure length bias).\n"
    )
    with atomic_write(out / "report.md", mode="w") as f:
        f.write("".join(md))
    return out / "report.json", out / "report.md"
