"""Reward-model metrics of the TOPReward paper (§2 of PAPER.md): VOC, success detection, bias check.

The benchmark aggregation (mean per dataset, then over datasets) is :func:`rabc.metrics.bootstrap_aggregate_ci`.

Pure numpy/scipy/sklearn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from scipy.stats import rankdata

log = logging.getLogger(__name__)

ConstantPolicy = Literal["nan", "zero"]


def voc(scores: Sequence[float] | np.ndarray, *, constant: ConstantPolicy = "nan") -> float:
    """Value-order correlation of one episode: Spearman ρ between the K prefix scores and their chronological
    order (the prefix index), ties ranked by their average.

    Args:
        scores: (K,) scores of the prefixes, in chronological order.
        constant: what constant scores (or K < 2) give: ``"nan"`` (the TOPReward reference code) or ``"zero"``
            (the GVL convention).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be one-dimensional (K,), got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if constant not in ("nan", "zero"):
        raise ValueError(f"constant must be 'nan' or 'zero', got {constant!r}")
    if len(s) < 2 or np.all(s == s[0]):
        return float("nan") if constant == "nan" else 0.0
    r = rankdata(s) - (len(s) + 1) / 2  # centred ranks of the scores
    t = np.arange(len(s)) - (len(s) - 1) / 2  # centred ranks of the chronological order (no ties)
    return float(np.dot(r, t) / np.sqrt(np.dot(r, r) * np.dot(t, t)))


def voc_per_episode(
    episodes: Sequence[Sequence[float] | np.ndarray], *, constant: ConstantPolicy = "nan"
) -> np.ndarray:
    """VOC of each episode: (E,)."""
    return np.array([voc(s, constant=constant) for s in episodes], dtype=np.float64)


def success_score(raw_log_p: Sequence[float] | np.ndarray, last: int = 3) -> float:
    """Success-detection score of an episode: mean raw log p(" True") over its last ``last`` prefixes (not
    normalised). raw_log_p: (K,) in chronological order."""
    r = np.asarray(raw_log_p, dtype=np.float64)
    if r.ndim != 1 or len(r) == 0:
        raise ValueError(f"raw_log_p must be a non-empty (K,) array, got shape {r.shape}")
    return float(r[-last:].mean())


def success_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """ROC-AUC of success-detection scores (E,) against success labels (E,)."""
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must both be (E,)")
    if y.all() or not y.any():
        raise ValueError("success AUC needs both successful and failed episodes")
    return float(roc_auc_score(y, s))


def static_frame_voc(
    score_fn: Callable[[np.ndarray], np.ndarray | Sequence[float]],
    first_frame: np.ndarray,
    num_frames: int,
    *,
    constant: ConstantPolicy = "nan",
) -> float:
    """Length-bias check: VOC of a scorer on a static video (the episode's first frame repeated ``num_frames``
    times). An unbiased scorer gives ≈ 0 (or NaN for constant scores); Qwen3-VL-8B gives ≈ 0.99 (PAPER.md §1).

    The one static-frame VOC definition, used by the reward tables and the scorer-quality table alike: a constant
    still-clip curve is NaN (no order to measure), left out of means, never 0 (which would read as "unbiased")
    and never GVL's parse-failure 0.

    Args:
        score_fn: maps frames (T, H, W, C) to the K prefix scores (K,) in chronological order.
        first_frame: (H, W, C) image.
    """
    frame = np.asarray(first_frame)
    if frame.ndim != 3:
        raise ValueError(f"first_frame must be (H, W, C), got shape {frame.shape}")
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    video = np.broadcast_to(frame, (num_frames, *frame.shape))  # (T, H, W, C), read-only view
    return voc(np.asarray(score_fn(video), dtype=np.float64), constant=constant)
