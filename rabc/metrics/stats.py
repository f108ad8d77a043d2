"""Confidence intervals and paired comparisons of success rates (numpy + scipy.stats).

- :func:`binomial_ci` / :func:`wilson_interval`: one success rate, scipy's ``binomtest(...).proportion_ci``; always
  inside [0, 1].
- :func:`bootstrap_ci`: percentile bootstrap of any statistic, ``scipy.stats.bootstrap``.
- :func:`hierarchical_bootstrap` + :func:`compare_to_baseline`: the Table-4 statistics. Outcomes form an
  (R, S, E) array — R recipes (rows), S training seeds, E evaluation episodes that are the *same* env seeds for
  every recipe of a training seed (paired design). A resample draws S training seeds with replacement, then E
  episodes with replacement within each drawn seed, and applies the same draw to every recipe, so differences
  between recipes keep their pairing. scipy's ``bootstrap`` resamples one level only, hence the two-level draw
  here (numpy ``Generator``, seeded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


def binomial_ci(
    successes: int, trials: int, confidence: float = 0.95, method: str = "wilson"
) -> tuple[float, float, float]:
    """Success rate with its interval from ``scipy.stats.binomtest(...).proportion_ci``: (rate, lower, upper).

    ``method``: "wilson" (default), "wilsoncc" or "exact" (Clopper-Pearson). The interval lies in [0, 1].
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=confidence, method=method
    )
    return successes / trials, float(ci.low), float(ci.high)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Wilson score interval of a success rate: (rate, lower, upper) (:func:`binomial_ci`)."""
    return binomial_ci(successes, trials, confidence, method="wilson")


def bootstrap_ci(
    data: np.ndarray | Sequence[float] | tuple[np.ndarray, ...],
    statistic: Callable[..., float] = np.mean,
    *,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval (``scipy.stats.bootstrap``), seeded.

    Args:
        data: (n,) values, or a tuple of (n,) arrays resampled jointly (e.g. (scores, labels) for an AUC).
        statistic: maps the (resampled) array(s) to a float; for a tuple it is called as ``statistic(*arrays)``.
        n_boot: number of resamples.
        confidence: e.g. 0.95 for the 2.5 / 97.5 percentiles.
        seed: seed of the numpy Generator that draws the resamples.
    Returns:
        (statistic on the full data, lower, upper). Resamples on which the statistic fails (ValueError, e.g. a
        one-class AUC) or is NaN are left out of the percentiles.
    """
    arrays = tuple(np.asarray(a) for a in data) if isinstance(data, tuple) else (np.asarray(data),)
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(f"bootstrap needs non-empty arrays of equal length, got {[len(a) for a in arrays]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")

    def safe(*a: np.ndarray) -> float:
        try:
            return float(statistic(*a))
        except ValueError:
            return float("nan")

    res = stats.bootstrap(
        arrays,
        safe,
        n_resamples=n_boot,
        confidence_level=confidence,
        method="percentile",
        paired=True,
        vectorized=False,
        rng=np.random.default_rng(seed),
    )
    boot = res.bootstrap_distribution
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        raise ValueError("the statistic failed on every bootstrap resample")
    lo, hi = _interval(boot, confidence)  # NaN-free percentiles (scipy's keep failed resamples)
    return safe(*arrays), lo, hi


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


def hierarchical_bootstrap(outcomes: np.ndarray, *, n_boot: int = 10_000, seed: int = 0) -> np.ndarray:
    """Bootstrap distribution of each recipe's mean success, resampling training seeds, then episodes.

    Args:
        outcomes: (R, S, E) success indicators (0/1 or rates) of R recipes, S training seeds and E paired episodes.
    Returns:
        (B, R) resampled means; row b applies one (seed, episode) draw to every recipe (paired).
    """
    x = np.asarray(outcomes, dtype=np.float64)
    if x.ndim != 3 or min(x.shape) == 0:
        raise ValueError(
            f"outcomes must be a non-empty (recipes, seeds, episodes) array, got shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError("outcomes contain NaN: every recipe needs every seed and episode (paired design)")
    _, s, e = x.shape
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, s, size=(n_boot, s))  # (B, S) training seeds drawn
    eps = rng.integers(0, e, size=(n_boot, s, e))  # (B, S, E) episodes drawn within each drawn seed
    picked = x[:, seeds[:, :, None], eps]  # (R, B, S, E)
    return picked.mean(axis=(2, 3)).T  # (B, R)


def _interval(samples: np.ndarray, confidence: float) -> list[float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return [float("nan"), float("nan")]
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(samples, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def verdict(ci: Sequence[float] | None, n_seeds: int) -> str:
    """ "better" / "worse" only when the paired Δ interval excludes 0; "n/a (1 seed)" without a seed interval."""
    if n_seeds < 2 or ci is None:
        return "n/a (1 seed)"
    lo, hi = ci
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return "no detectable difference"


@dataclass
class Comparison:
    """Statistics of one recipe against the baseline and the headroom; intervals are None with one seed."""

    success: float
    ci: list[float] | None
    delta: float
    delta_ci: list[float] | None
    recovered: float | None  # (recipe − baseline) / (upper − baseline); None without headroom
    recovered_ci: list[float] | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "ci": self.ci,
            "delta_vs_uniform": self.delta,
            "delta_ci": self.delta_ci,
            "headroom_recovered": self.recovered,
            "headroom_recovered_ci": self.recovered_ci,
            "verdict": self.verdict,
        }


def compare_to_baseline(
    outcomes: np.ndarray,
    baseline: int,
    upper: Sequence[int] = (),
    *,
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[list[Comparison], dict[str, Any]]:
    """Paired statistics of every recipe against ``baseline`` (uniform BC) and the headroom of the upper rows.

    Args:
        outcomes: (R, S, E) paired success indicators (see :func:`hierarchical_bootstrap`).
        baseline: row of uniform BC.
        upper: rows of the upper bounds (BC on successful / clean demos only); the best by point estimate is
            the headroom's upper row.
    Returns:
        (one :class:`Comparison` per row, headroom dict {upper_row (index or None), value, ci, has_headroom}).
        With one training seed no interval is computed (a seed-level interval needs seeds): ci fields are None.
        ``has_headroom`` is True only when the headroom interval lies above 0.
    """
    x = np.asarray(outcomes, dtype=np.float64)
    r, s, _ = x.shape
    mean = x.mean(axis=(1, 2))  # (R,)
    delta = mean - mean[baseline]  # (R,)
    boot = hierarchical_bootstrap(x, n_boot=n_boot, seed=seed) if s >= 2 else None  # (B, R)
    boot_delta = None if boot is None else boot - boot[:, [baseline]]  # (B, R) paired differences
    headroom: dict[str, Any] = {"upper_row": None, "value": None, "ci": None, "has_headroom": False}
    up = max(upper, key=lambda i: mean[i]) if upper else None
    gap = gap_boot = None
    if up is not None:
        gap = float(delta[up])
        ci = _interval(boot_delta[:, up], confidence) if boot_delta is not None else None
        headroom = {"upper_row": int(up), "value": gap, "ci": ci, "has_headroom": bool(ci and ci[0] > 0)}
        if boot_delta is not None and headroom["has_headroom"]:
            gap_boot = boot_delta[:, up]  # (B,)
    rows = []
    for i in range(r):
        ci = d_ci = rec_ci = None
        if boot is not None and boot_delta is not None:
            ci = _interval(boot[:, i], confidence)
            d_ci = _interval(boot_delta[:, i], confidence)
            if gap_boot is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rec_ci = _interval(
                        np.where(gap_boot > 0, boot_delta[:, i] / gap_boot, np.nan), confidence
                    )
        rows.append(
            Comparison(
                success=float(mean[i]),
                ci=ci,
                delta=float(delta[i]),
                delta_ci=d_ci,
                recovered=float(delta[i]) / gap if gap else None,
                recovered_ci=rec_ci,
                verdict="baseline" if i == baseline else verdict(d_ci, s),
            )
        )
    return rows, headroom
