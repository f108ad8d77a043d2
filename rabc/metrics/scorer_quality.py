"""Scorer quality table: how well a progress source (raw, length-bias corrected, calibrated, oracle) ranks frames
and episodes, each figure with a percentile bootstrap CI over episodes.

Metrics per source (episodes E, frames N_e):
- ``voc``: mean VOC (Spearman of the anchor scores vs time) over episodes; constant curves are left out.
- ``static_voc``: mean VOC of the still clip's anchor scores (first frame repeated): ≈ 0 for an unbiased scorer.
  The definition of :func:`rabc.metrics.reward.static_frame_voc`: NaN for a constant still-clip curve (no order
  to measure), which the mean leaves out, so a perfectly flat scorer does not count as "unbiased".
- ``static_rise_ratio``: mean (last − first) of the still clip over mean |last − first| of the real clip (raw
  scores): ≈ 0 unbiased, ≈ 1 a pure length bias.
- ``idle_rise_share``: share of an episode's progress rise (sum of positive per-frame increments) that falls on
  frames of idle / give-up / detour stretches; mean over episodes that have such a stretch and any rise.
- ``success_auc``: ROC-AUC of the final progress against the episode's success label.
- ``success_auc_within_task``: the same, counting only (successful, failed) pairs of one task (ties ½): what a
  per-task monotone calibration cannot change, so it bounds what calibration can do for ``success_auc`` (with
  every cross-task pair put right, success_auc = 1 − (within-task pairs wrong) / (all pairs)).
- ``frame_auc``: ROC-AUC of good vs bad frames, scored by the progress gained over the next ``horizon`` frames
  (the advantage the weighting turns into weights); frames pooled over episodes.
Pure numpy/scipy/sklearn; nothing here calls a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rabc.metrics.reward import voc

METRICS = (
    "voc",
    "static_voc",
    "static_rise_ratio",
    "idle_rise_share",
    "success_auc",
    "success_auc_within_task",
    "frame_auc",
)


@dataclass(frozen=True)
class EpisodeCurves:
    """One episode under one progress source.

    progress: (N,) per-frame progress; anchors: (K,) the source's score at its anchors, in time order (for VOC);
    success: the episode's outcome; bad: (N,) bool, True on idle / give-up / detour frames (None: unknown);
    static_anchors: (K,) the still clip's anchor scores (None: not scored); raw_rise: last − first raw score of
    the real clip (for the static rise ratio; None: unknown); task: the episode's task (for the within-task
    success AUC; None: unknown).
    """

    progress: np.ndarray
    anchors: np.ndarray
    success: bool | None = None
    bad: np.ndarray | None = None
    static_anchors: np.ndarray | None = None
    raw_rise: float | None = None
    task: str | None = None

    def __post_init__(self) -> None:
        if self.bad is not None and np.shape(self.bad) != np.shape(self.progress):
            raise ValueError(f"bad mask {np.shape(self.bad)} must match progress {np.shape(self.progress)}")


def rise_share(progress: np.ndarray, mask: np.ndarray) -> float:
    """Share of the positive per-frame increments of ``progress`` (N,) that land on frames where ``mask`` (N,)
    is True (the increment from t−1 to t belongs to frame t). NaN when the curve never rises."""
    p, m = np.asarray(progress, dtype=np.float64), np.asarray(mask, dtype=bool)
    if p.shape != m.shape or p.ndim != 1:
        raise ValueError(f"progress {p.shape} and mask {m.shape} must both be (N,)")
    rise = np.clip(np.diff(p), 0.0, None)  # (N-1,) increment into frame t = 1..N-1
    total = rise.sum()
    return float(rise[m[1:]].sum() / total) if total > 0 else float("nan")


def forward_gain(progress: np.ndarray, horizon: int) -> np.ndarray:
    """(N,) progress gained over the next ``horizon`` frames (clamped at the episode's last frame)."""
    p = np.asarray(progress, dtype=np.float64)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    ahead = np.minimum(np.arange(len(p)) + horizon, len(p) - 1)
    return p[ahead] - p


def _static_rise_ratio(eps: Sequence[EpisodeCurves]) -> float:
    pairs = [
        (float(e.static_anchors[-1] - e.static_anchors[0]), abs(float(e.raw_rise)))
        for e in eps
        if e.static_anchors is not None and e.raw_rise is not None and len(e.static_anchors) > 1
    ]
    if not pairs:
        return float("nan")
    static, real = np.asarray(pairs).T
    return float(static.mean() / real.mean()) if real.mean() > 0 else float("nan")


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def _metric(name: str, eps: Sequence[EpisodeCurves], horizon: int) -> float:
    from sklearn.metrics import roc_auc_score

    if name == "voc":
        return _nanmean([voc(e.anchors) for e in eps])
    if name == "static_voc":
        return _nanmean([voc(e.static_anchors) for e in eps if e.static_anchors is not None])
    if name == "static_rise_ratio":
        return _static_rise_ratio(eps)
    if name == "idle_rise_share":
        return _nanmean([rise_share(e.progress, e.bad) for e in eps if e.bad is not None and e.bad[1:].any()])
    if name == "success_auc":
        lab = [(float(e.progress[-1]), bool(e.success)) for e in eps if e.success is not None]
        y = np.array([b for _, b in lab], dtype=bool)
        if y.all() or not y.any():
            return float("nan")
        return float(roc_auc_score(y, [s for s, _ in lab]))
    if name == "success_auc_within_task":
        return _within_task_auc(eps)
    if name == "frame_auc":
        with_mask = [e for e in eps if e.bad is not None]
        if not with_mask:
            return float("nan")
        score = np.concatenate([forward_gain(e.progress, horizon) for e in with_mask])
        good = ~np.concatenate([np.asarray(e.bad, dtype=bool) for e in with_mask])
        if good.all() or not good.any():
            return float("nan")
        return float(roc_auc_score(good, score))
    raise ValueError(f"unknown metric {name!r}; choose from {METRICS}")


def _within_task_auc(eps: Sequence[EpisodeCurves]) -> float:
    """Share of (successful, failed) episode pairs of the same task whose final progress is ordered right (ties
    count ½); NaN when no task has both outcomes."""
    finals: dict[str, tuple[list[float], list[float]]] = {}
    for e in eps:
        if e.success is not None and e.task is not None:
            finals.setdefault(e.task, ([], []))[0 if e.success else 1].append(float(e.progress[-1]))
    right = pairs = 0.0
    for ok, failed in finals.values():
        diff = np.subtract.outer(ok, failed)
        right += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
        pairs += diff.size
    return right / pairs if pairs else float("nan")


def frame_auc(eps: Sequence[EpisodeCurves], horizon: int) -> float:
    """ROC-AUC of the progress gained over the next ``horizon`` frames, good vs bad frames of ``eps`` (those with a
    ``bad`` mask); NaN with one class only. The table's ``frame_auc``."""
    return _metric("frame_auc", eps, horizon)


def scorer_quality_table(
    sources: Mapping[str, Sequence[EpisodeCurves]],
    *,
    horizon: int = 10,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """{source: {metric: (estimate, lower, upper)}} for every metric of :data:`METRICS`.

    The CI is a percentile bootstrap over episodes (resampled with replacement; the same resamples for every
    source, so sources scored on the same episodes are compared on the same draws). Resamples where a metric is
    undefined (e.g. one class only) are dropped; a metric undefined on the full set is (nan, nan, nan).
    """
    if not sources:
        raise ValueError("no progress sources to tabulate")
    sizes = {name: len(eps) for name, eps in sources.items()}
    if min(sizes.values()) < 1:
        raise ValueError(f"every source needs at least one episode, got {sizes}")
    rng = np.random.default_rng(seed)
    draws = {n: rng.integers(0, n, size=(n_boot, n)) for n in sorted(set(sizes.values()))}
    alpha = (1 - confidence) / 2
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, eps in sources.items():
        row: dict[str, tuple[float, float, float]] = {}
        for metric in METRICS:
            est = _metric(metric, eps, horizon)
            if not np.isfinite(est):
                row[metric] = (float("nan"),) * 3
                continue
            boot = np.array([_metric(metric, [eps[i] for i in idx], horizon) for idx in draws[len(eps)]])
            boot = boot[np.isfinite(boot)]
            lo, hi = np.quantile(boot, [alpha, 1 - alpha]) if boot.size else (np.nan, np.nan)
            row[metric] = (est, float(lo), float(hi))
        table[name] = row
    return table


def quality_markdown(
    table: Mapping[str, Mapping[str, tuple[float, float, float]]], fmt: Callable[[float], str] | None = None
) -> str:
    """The table as markdown: one row per source, one column per metric, ``est [lo, hi]``."""
    fmt = fmt or (lambda x: "–" if not np.isfinite(x) else f"{x:.3f}")
    lines = ["| source | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, row in table.items():
        cells = [
            "–" if not np.isfinite(row[m][0]) else f"{fmt(row[m][0])} [{fmt(row[m][1])}, {fmt(row[m][2])}]"
            for m in METRICS
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
