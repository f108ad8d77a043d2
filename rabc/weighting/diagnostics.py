"""Weight diagnostics: distribution, effective sample size, zero/capped fractions, mean weight per group, warnings.

Issue 5's pilot found the paper-exact TOP-AWR weights all land in 1.8–2.0 (i.e. plain BC) and filtered BC can
zero out whole phases of a task, so every weights computation reports these numbers and warns on both failure
modes: near-uniform weights and a collapsed effective sample size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rabc.io import atomic_write

log = logging.getLogger(__name__)

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


def effective_sample_size(weight: np.ndarray) -> float:
    """Kish effective sample size (Σw)² / Σw² (0 when all weights are zero)."""
    w = np.asarray(weight, dtype=np.float64)
    sq = float(np.dot(w, w))
    return float(w.sum()) ** 2 / sq if sq > 0 else 0.0


def phase_coverage(weight: np.ndarray, phases: np.ndarray) -> tuple[float, str] | None:
    """(smallest mean weight of any phase over the mean weight of all phased frames, that phase); frames whose
    phase is "" are left out; None when no frame has a phase or every weight is zero. A phase is a task and a
    part of its episodes (e.g. ``"push-v3 3/10"``, :func:`rabc.data.segments.frame_phases`)."""
    w, phases = np.asarray(weight, dtype=np.float64), np.asarray(phases)
    if phases.shape != w.shape:
        raise ValueError(f"phases has shape {phases.shape}, weights have {w.shape}")
    keep = phases != ""
    if not keep.any() or w[keep].mean() <= 0:
        return None
    keys, inv = np.unique(phases[keep], return_inverse=True)
    per_phase = np.bincount(inv, weights=w[keep]) / np.bincount(inv)  # (P,) mean weight per phase
    weakest = int(np.argmin(per_phase))
    return float(per_phase[weakest] / w[keep].mean()), str(keys[weakest])


def _group_means(weight: np.ndarray, labels: np.ndarray, name: str) -> dict[str, dict[str, float]]:
    labels = np.asarray(labels)
    if labels.shape != weight.shape:
        raise ValueError(f"{name} has shape {labels.shape}, weights have {weight.shape}")
    keep = ~np.isnan(labels) if labels.dtype.kind == "f" else np.ones(len(labels), dtype=bool)
    levels, inv = np.unique(labels[keep], return_inverse=True)
    sums = np.bincount(inv, weights=weight[keep], minlength=len(levels))
    counts = np.bincount(inv, minlength=len(levels))
    out = {}
    for lv, s, c in zip(levels.tolist(), sums, counts):
        key = str(bool(lv)) if labels.dtype == bool else str(lv)
        out[key] = {"mean_weight": float(s / c), "frames": int(c)}
    return out


def weight_diagnostics(
    weight: np.ndarray,
    *,
    max_weight: float | None = None,
    quality: np.ndarray | None = None,
    success: np.ndarray | None = None,
    phases: np.ndarray | None = None,
    near_uniform_cv: float = 0.05,
    min_ess_fraction: float = 0.10,
    min_phase_coverage: float = 0.05,
) -> dict[str, Any]:
    """Summary of a weight vector. Also logs every warning it reports.

    Args:
        weight: (N,) weights.
        max_weight: the scheme's cap δ_max, for the fraction of capped weights (w == δ_max).
        quality: (N,) optional per-frame quality level (any discrete labels) aligned with ``weight``.
        success: (N,) optional per-frame success flag (bool) aligned with ``weight``.
        phases: (N,) optional per-frame task and part of its episode (str, "" = none): adds the phase coverage of
            all frames (:func:`phase_coverage`), which needs no quality labels.
        near_uniform_cv: warn when the coefficient of variation std/mean is below this.
        min_ess_fraction: warn when (Σw)²/Σw² / N is below this.
        min_phase_coverage: warn when some phase's mean weight is below this fraction of the mean: the weights
            practically drop a part of a task every demo goes through, so the policy never learns it (a scorer
            whose progress stalls in that phase; the oracle's own coverage on the harmful mixes is 0.11–0.13,
            scorers that starved a phase 0.00–0.02).
    Returns:
        dict with n, mean, std, cv, quantiles, ess, ess_fraction, zero_fraction, capped_fraction (if max_weight),
        by_quality / by_success (if given), phase_coverage and weakest_phase (with ``phases``), warnings (list of
        str).
    """
    w = np.asarray(weight, dtype=np.float64)
    n = len(w)
    if n == 0:
        raise ValueError("no weights to diagnose")
    mean, std = float(w.mean()), float(w.std())
    cv = std / mean if mean > 0 else float("inf")
    ess = effective_sample_size(w)
    q = np.quantile(w, QUANTILES)
    out: dict[str, Any] = {
        "n": n,
        "mean": mean,
        "std": std,
        "cv": cv,
        "min": float(w.min()),
        "max": float(w.max()),
        "quantiles": {f"q{int(round(p * 100)):02d}": float(v) for p, v in zip(QUANTILES, q)},
        "ess": ess,
        "ess_fraction": ess / n,
        "zero_fraction": float(np.mean(w == 0)),
    }
    if max_weight is not None:
        out["capped_fraction"] = float(np.mean(w >= np.float32(max_weight)))
    if quality is not None:
        out["by_quality"] = _group_means(w, quality, "quality")
    if success is not None:
        out["by_success"] = _group_means(w, np.asarray(success).astype(bool), "success")
    coverage = phase_coverage(w, phases) if phases is not None else None
    if coverage is not None:
        out["phase_coverage"], out["weakest_phase"] = coverage
    warnings = []
    if coverage is not None and coverage[0] < min_phase_coverage:
        warnings.append(
            f"phase {coverage[1]!r} keeps {coverage[0]:.2f} x the mean weight (< {min_phase_coverage}): the weights "
            "practically drop that part of the task, so the policy may never learn it"
        )
    if mean == 0:
        warnings.append("every weight is zero: nothing would be trained on")
    elif cv < near_uniform_cv:
        warnings.append(
            f"weights are near-uniform (coefficient of variation {cv:.3g} < {near_uniform_cv}): "
            "training will be practically plain BC"
        )
    if mean > 0 and ess / n < min_ess_fraction:
        warnings.append(
            f"effective sample size collapsed to {ess / n:.1%} of {n} frames (< {min_ess_fraction:.0%}): "
            "a few frames dominate the loss"
        )
    for msg in warnings:
        log.warning(msg)
    out["warnings"] = warnings
    return out


def format_diagnostics(diag: dict[str, Any]) -> str:
    """Human-readable multi-line summary of :func:`weight_diagnostics`."""
    qs = "  ".join(f"{k}={v:.3g}" for k, v in diag["quantiles"].items())
    lines = [
        f"frames {diag['n']}  mean {diag['mean']:.4g}  std {diag['std']:.4g}  cv {diag['cv']:.3g}",
        f"quantiles: {qs}",
        f"ESS {diag['ess']:.1f} ({diag['ess_fraction']:.1%})  zero {diag['zero_fraction']:.1%}"
        + (f"  capped {diag['capped_fraction']:.1%}" if "capped_fraction" in diag else "")
        + (
            f"  phase coverage {diag['phase_coverage']:.2f} ({diag['weakest_phase']})"
            if "phase_coverage" in diag
            else ""
        ),
    ]
    for key in ("by_quality", "by_success"):
        if key in diag:
            groups = "  ".join(
                f"{lv}: {g['mean_weight']:.3g} (n={g['frames']})" for lv, g in diag[key].items()
            )
            lines.append(f"mean weight {key.replace('by_', 'by ')}: {groups}")
    lines += [f"WARNING: {m}" for m in diag["warnings"]]
    return "\n".join(lines)


def plot_weight_histogram(
    weight: np.ndarray, path: str | Path, *, title: str = "weights", bins: int = 50
) -> None:
    """Write a PNG histogram of ``weight`` (N,) atomically.

    Uses ``matplotlib.figure.Figure`` directly (Agg canvas), so no global pyplot backend is touched.
    """
    from matplotlib.figure import Figure

    w = np.asarray(weight, dtype=np.float64)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.hist(w, bins=bins, color="tab:blue")
    ax.set_xlabel("weight")
    ax.set_ylabel("frames")
    ess = effective_sample_size(w) / max(len(w), 1)
    ax.set_title(f"{title}  (mean {w.mean():.3g}, ESS {ess:.1%}, zero {np.mean(w == 0):.1%})", fontsize=9)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
