"""The one loss reducer of rabc: Σ w_i ℓ_i / Σ w_i (TOPReward §5.3, the weighted BC loss)."""

from __future__ import annotations

import torch


def weighted_mean(
    per_sample: torch.Tensor, weights: torch.Tensor, weight_sum: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted mean of per-sample losses.

    Args:
        per_sample: (B,) losses.
        weights: (B,) non-negative weights.
        weight_sum: the denominator; defaults to ``weights.sum()``. Under data parallelism pass the **global** Σw
            (summed over all processes) and scale by the world size, so that the averaged gradients equal the
            single-process gradients on the same global batch.
    Returns:
        scalar loss. With uniform weights it equals ``per_sample.mean()`` exactly; scaling all weights by c > 0
        changes nothing; a sample with w = 0 contributes no gradient.
    """
    if per_sample.shape != weights.shape or per_sample.ndim != 1:
        raise ValueError(
            f"per-sample losses {tuple(per_sample.shape)} and weights {tuple(weights.shape)} must be (B,)"
        )
    denom = weights.sum() if weight_sum is None else weight_sum
    if not torch.all(denom > 0):
        raise ValueError("weighted_mean: the weights sum to zero (skip the step instead)")
    weights = weights.to(per_sample.dtype)
    return (per_sample * weights).sum() / denom.to(per_sample.dtype)


def weight_stats(weights: torch.Tensor, cap: float | None = None) -> dict[str, torch.Tensor]:
    """Batch statistics of weights for logging: mean/std/min/max, zero fraction, Kish effective sample size
    (Σw)²/Σw² and that size as a fraction of the batch."""
    w = weights.detach().float()
    s = w.sum()
    ess = s * s / (w * w).sum().clamp_min(1e-12)
    stats = {
        "mean": w.mean(),
        "std": w.std(unbiased=False),
        "min": w.min(),
        "max": w.max(),
        "zero_frac": (w == 0).float().mean(),
        "ess": ess,
        "ess_frac": ess / w.numel(),
    }
    if cap is not None:
        stats["capped_frac"] = (w >= cap).float().mean()
    return stats
