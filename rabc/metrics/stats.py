"""Confidence intervals: percentile bootstrap, Wilson interval for a success rate, Student-t across seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats


def bootstrap_ci(
    data: np.ndarray | Sequence[float] | tuple[np.ndarray, ...],
    statistic: Callable[..., float] = np.mean,
    *,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval, seeded.

    Args:
        data: (n,) values, or a tuple of (n,) arrays resampled jointly (e.g. (scores, labels) for an AUC).
        statistic: maps the (resampled) array(s) to a float; for a tuple it is called as ``statistic(*arrays)``.
        n_boot: number of resamples.
        confidence: e.g. 0.95 for the 2.5 / 97.5 percentiles.
        seed: seed of the numpy Generator that draws the resamples.
    Returns:
        (statistic on the full data, lower, upper). Resamples on which the statistic fails (ValueError, e.g. a
        one-class AUC) or is NaN are dropped.
    """
    arrays = tuple(np.asarray(a) for a in data) if isinstance(data, tuple) else (np.asarray(data),)
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"bootstrap needs non-empty arrays of equal length, got {[len(a) for a in arrays]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))  # (B, n)
    if len(arrays) == 1 and statistic in (np.mean, np.median, np.nanmean):
        boot = statistic(arrays[0][idx], axis=1)  # vectorised over resamples
    else:
        boot = np.array([_safe(statistic, [a[i] for a in arrays]) for i in idx])
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        raise ValueError("the statistic failed on every bootstrap resample")
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return float(statistic(*arrays)), float(lo), float(hi)


def _safe(statistic: Callable[..., Any], arrays: list[np.ndarray]) -> float:
    try:
        return float(statistic(*arrays))
    except ValueError:
        return float("nan")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Wilson score interval of a success rate: (rate, lower, upper)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    p = successes / trials
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return p, float(max(0.0, centre - half)), float(min(1.0, centre + half))


def mean_t_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Mean ± Student-t half-width across seeds: (mean, half_width); half_width is NaN for a single value."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"values must be a non-empty (n,) array, got shape {v.shape}")
    if len(v) == 1:
        return float(v[0]), float("nan")
    sem = v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(stats.t.ppf(1 - (1 - confidence) / 2, len(v) - 1) * sem)


def bootstrap_aggregate_ci(
    per_dataset: dict[str, np.ndarray | Sequence[float]],
    *,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap of the paper's benchmark score (mean over episodes per dataset, then unweighted mean
    over datasets): episodes are resampled within each dataset, the datasets themselves are fixed.

    Args:
        per_dataset: {dataset: (n_d,) per-episode values}; NaN episodes (undefined VOC) are dropped first.
    Returns:
        (score, lower, upper).
    """
    rng = np.random.default_rng(seed)
    means, boots = [], []
    for values in per_dataset.values():  # a handful of datasets; vectorised over resamples inside
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        means.append(v.mean())
        boots.append(v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1))  # (B,)
    if not means:
        raise ValueError(f"no finite values in any dataset ({sorted(per_dataset)})")
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(np.mean(boots, axis=0), [alpha, 1 - alpha])
    return float(np.mean(means)), float(lo), float(hi)
