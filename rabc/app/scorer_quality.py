"""The scorer-quality table (``python scripts/scorer_quality.py``): how well a TOPReward scorer's progress ranks
frames and episodes, raw, length-bias corrected and calibrated, beside the oracle.

One pass of ``TopRewardScorer(correction="static")`` per episode gives the raw log p(" True") at the anchors and
the still clip's curve (:class:`~rabc.reward.topreward.EpisodeScore`), so raw and corrected progress come from
the same sweep (``+scorer.correction=static_task`` uses the amortised still curve, one per task and clip length);
the calibration (:mod:`rabc.reward.calibration`, one isotonic or logistic map per task, of log p or of the
True − False margin: ``calibration_signal``) is fitted on episodes of
``calibration_root`` (the scorer's own data: its training episodes, its validation episodes, which it never trained
on, or both: ``calibration_episodes``) and applied to the evaluation episodes of the same tasks.
``progress={name: parquet}`` adds rows for other progress sources of the evaluation dataset (an ensemble's mean,
``scripts/ensemble_progress.py``), measured like the oracle's. The evaluation dataset's episodes are grouped into
its training tasks and its held-out tasks (a calibration is never applied to a task it was not fitted on: those
cells read "–").
Metrics and bootstrap intervals: :func:`rabc.metrics.scorer_quality.scorer_quality_table`; bad frames are the
generator's detour / give-up / wrong-target / push-away / pause segments (:mod:`rabc.weighting.separation`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig
from tqdm.auto import tqdm

from rabc.app.cli import runtime_defaults, to_container

log = logging.getLogger(__name__)

SOURCES = ("raw", "corrected", "calibrated", "oracle")
#: which of the scorer's own episodes fit the calibration (``calibration_episodes``), as the table names them
CALIBRATION_EPISODES = {
    "train": "training",
    "val": "validation (not trained on)",
    "all": "training and validation",
}


@dataclass(frozen=True)
class ScorerQualityResult:
    """``table`` is {group: {source: {metric: (estimate, lower, upper)}}}, also in ``json`` and ``markdown``."""

    table: dict[str, dict[str, dict[str, tuple[float, float, float]]]]
    json: Path
    markdown: Path

    def summary(self) -> str:
        return f"{self.markdown.read_text()}\nscorer quality: {self.json}"


@dataclass
class Scored:
    """One episode scored once with the still-clip correction."""

    task: str
    success: bool
    length: int
    anchors: np.ndarray  # (K,) anchor frames
    logp: np.ndarray  # (K,) raw log p(" True")
    logp_false: np.ndarray  # (K,) raw log p(" False")
    logp_static: np.ndarray  # (K,) the still clip's


def score_episodes(scorer: Any, info: Any, episodes: list[int], desc: str) -> dict[int, Scored]:
    """Score ``episodes`` of the dataset of ``info`` (:class:`rabc.data.DatasetInfo`; one corrected sweep each)."""
    from rabc.data import read_episode_frames

    root = info.root
    table = info.episodes.set_index("episode_index")
    out = {}
    for ep in tqdm(episodes, desc=desc, unit="ep"):
        frames, _ = read_episode_frames(root, ep)
        row = table.loc[ep]
        es = scorer.score_episode(frames, fps=info.fps, instruction=str(row["task"]), episode_index=ep)
        if es.logp_static is None:
            raise ValueError(
                "the scorer-quality table needs a scorer with correction='static' or 'static_task'"
            )
        out[ep] = Scored(
            str(row["task"]),
            bool(row["success"]),
            len(frames),
            es.anchor_frames,
            es.logp_true,
            es.logp_false,
            es.logp_static,
        )
    return out


def fit(scored: dict[int, Scored], method: str = "isotonic", signal: str = "logp") -> Any:
    """The per-task calibration of :mod:`rabc.reward.calibration` (``method``: isotonic or logistic) on these
    episodes' raw anchor scores (``signal``: log p(" True") or the True − False margin)."""
    from rabc.progress import ProgressTable
    from rabc.reward.calibration import fit_calibration

    eps = sorted(scored)
    n = [scored[e].length for e in eps]
    logp, logp_false = np.full(sum(n), np.nan), np.full(sum(n), np.nan)
    offsets = np.cumsum([0, *n[:-1]])
    for e, off in zip(eps, offsets):
        logp[off + scored[e].anchors] = scored[e].logp
        logp_false[off + scored[e].anchors] = scored[e].logp_false
    table = ProgressTable(
        index=np.arange(sum(n)),
        episode_index=np.repeat(eps, n),
        frame_index=np.concatenate([np.arange(k) for k in n]),
        progress=np.zeros(sum(n), np.float32),
        extra={"logp_true": logp, "logp_false": logp_false},
    )
    tasks, success = {e: scored[e].task for e in eps}, {e: scored[e].success for e in eps}
    return fit_calibration(table, tasks, success, method=method, signal=signal)


def curves(
    scored: dict[int, Scored],
    info: Any,
    oracle: Any,
    labels: Any,
    calibration: Any,
    num_anchors: int | None,
    progress: dict[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """{source: [EpisodeCurves]} of the scored episodes (calibrated only for calibrated tasks); ``info``, ``oracle``
    and ``labels``: the evaluation dataset's DatasetInfo, oracle progress and frame labels (read once by run);
    ``progress``: {name: ProgressTable} of other progress sources of the same dataset (e.g. an ensemble's mean),
    rows of their own measured like the oracle's (from dense progress; no still clip)."""
    from rabc.data.segments import bad_frames
    from rabc.metrics.scorer_quality import EpisodeCurves
    from rabc.reward.calibration import anchor_signal
    from rabc.reward.topreward import anchor_lengths, dense_progress, minmax_normalise

    eps = info.episodes.set_index("episode_index")
    progress = progress or {}
    out: dict[str, list[Any]] = {s: [] for s in (*SOURCES[:-1], *progress, SOURCES[-1])}
    for ep, s in scored.items():
        start, n = int(eps.at[ep, "from_index"]), s.length
        bad = None if labels is None else bad_frames(labels, start, n)
        rise = float(s.logp[-1] - s.logp[0])
        out["raw"].append(
            EpisodeCurves(
                dense_progress(s.anchors, minmax_normalise(s.logp), n),
                s.logp,
                s.success,
                bad,
                s.logp_static,
                rise,
                s.task,
            )  # fmt: skip
        )
        corrected = s.logp - s.logp_static
        out["corrected"].append(
            EpisodeCurves(
                dense_progress(s.anchors, minmax_normalise(corrected), n),
                corrected,
                s.success,
                bad,
                task=s.task,
            )
        )
        if s.task in calibration.maps:
            cal = calibration.map(s.task, anchor_signal(s.logp, s.logp_false, calibration.signal))
            out["calibrated"].append(
                EpisodeCurves(np.interp(np.arange(n), s.anchors, cal), cal, s.success, bad, task=s.task)
            )
        at = anchor_lengths(n, num_anchors) - 1
        for name, table in [*progress.items(), ("oracle", oracle)]:
            p = table.progress[table.episode_index == ep].astype(np.float64)
            if len(p) != n:
                raise ValueError(f"progress source {name!r}: episode {ep} has {len(p)} frames, the video {n}")
            out[name].append(EpisodeCurves(p, p[at], s.success, bad, task=s.task))
    return {k: v for k, v in out.items() if v}


def run(cfg: DictConfig) -> ScorerQualityResult:
    """Score ``cfg.calibration_root``'s training episodes (for the calibration) and every episode of
    ``cfg.root``, tabulate per group (training tasks, held-out tasks), write ``<out>/scorer_quality.{json,md}``."""
    runtime_defaults()
    from rabc.data import dataset_info, split_episodes
    from rabc.data.oracle import read_oracle_progress
    from rabc.data.segments import frame_labels
    from rabc.io import atomic_write, provenance_stamp, write_json
    from rabc.metrics.scorer_quality import METRICS, quality_markdown, scorer_quality_table
    from rabc.progress import read_progress
    from rabc.reward.topreward import TopRewardScorer
    from rabc.weighting import horizon_frames

    root, cal_root, out = Path(str(cfg.root)), Path(str(cfg.calibration_root)), Path(str(cfg.out))
    kwargs = to_container(cfg.scorer)
    # raw and corrected progress from one sweep: correction static (default) or static_task
    kwargs.setdefault("correction", "static")
    if kwargs["correction"] not in ("static", "static_task"):
        raise ValueError(f"scorer.correction must be 'static' or 'static_task', got {kwargs['correction']!r}")
    scorer = TopRewardScorer(str(cfg.model), **kwargs)
    which = str(cfg.calibration_episodes)
    if which not in CALIBRATION_EPISODES:
        raise ValueError(f"calibration_episodes must be one of {CALIBRATION_EPISODES}, got {which!r}")
    split = split_episodes(cal_root, cfg.calibration_val_fraction, cfg.calibration_split_seed)
    fit_on = sorted(split["train"] + split["val"]) if which == "all" else split[which]
    calibration = fit(
        score_episodes(scorer, dataset_info(cal_root), fit_on, "score calibration episodes"),
        str(cfg.calibration_method),
        str(cfg.calibration_signal),
    )
    info = dataset_info(root)
    eps = info.episodes
    if cfg.max_episodes_per_group is not None:
        eps = eps.groupby("heldout", group_keys=False).head(int(cfg.max_episodes_per_group))
    scored = score_episodes(scorer, info, [int(e) for e in eps["episode_index"]], f"score {root.name}")
    horizon = horizon_frames(float(cfg.frame_auc_horizon_s), info.fps)
    oracle, labels = read_oracle_progress(root), frame_labels(root)
    extra = {
        str(k): read_progress(v, expect_fingerprint=info.fingerprint) for k, v in (cfg.progress or {}).items()
    }
    held = set(eps.loc[eps["heldout"].astype(bool), "episode_index"].astype(int))
    groups = {
        "training tasks (held-out episodes)": {e: s for e, s in scored.items() if e not in held},
        "held-out tasks": {e: s for e, s in scored.items() if e in held},
    }
    table: dict[str, Any] = {}
    signal = "log p" if calibration.signal == "logp" else "the True − False margin"
    md = [
        "# Scorer quality",
        "",
        f"Scorer `{cfg.model}`"
        + (f" + adapter `{cfg.scorer.adapter}`" if cfg.scorer.get("adapter") else "")
        + (
            f", frames resized to {kwargs['frame_size'][0]} × {kwargs['frame_size'][1]}"
            if kwargs.get("frame_size")
            else ""
        )
        + f"; evaluation episodes: `{root}` (never seen by the scorer); {calibration.method} calibration "
        f"of {signal} fitted on the {len(fit_on)} {CALIBRATION_EPISODES[which]} episodes of `{cal_root}`. "
        "95 % percentile-bootstrap intervals over episodes; frame AUC scores a frame by the progress gained over "
        f"the next {horizon} frames ({cfg.frame_auc_horizon_s} s).",
        "",
        "Metrics: "
        + ", ".join(METRICS)
        + f" (rabc/metrics/scorer_quality.py). Corrected = raw log p minus the still clip's (correction "
        f"`{scorer.correction}`; its still-clip metrics are 0 by construction: –); calibrated = the per-task "
        f"{calibration.method} map of {signal} (not defined on held-out tasks: –)"
        + "".join(f"; {k} = `{v}`" for k, v in (cfg.progress or {}).items())
        + ".",
    ]
    for name, group in groups.items():
        if not group:
            continue
        table[name] = scorer_quality_table(
            curves(group, info, oracle, labels, calibration, cfg.scorer.num_anchors, extra),
            horizon=horizon,
            n_boot=int(cfg.n_boot),
        )
        md += ["", f"## {name}: {len(group)} episodes", "", quality_markdown(table[name])]
    out.mkdir(parents=True, exist_ok=True)
    js = out / "scorer_quality.json"
    write_json(js, {"groups": table, "root": str(root), "calibration_root": str(cal_root),
                    "calibration_episodes": {"split": which, "episodes": fit_on},
                    "calibration_method": calibration.method, "calibration_signal": calibration.signal,
                    "horizon_frames": horizon,
                    "model": str(cfg.model), "adapter": cfg.scorer.get("adapter"), "correction": scorer.correction,
                    "scorer": kwargs,
                    **provenance_stamp()})  # fmt: skip
    path = out / "scorer_quality.md"
    with atomic_write(path, "w") as fh:
        fh.write("\n".join(md) + "\n")
    log.info("scorer quality: %s", path)
    return ScorerQualityResult(table, js, path)
