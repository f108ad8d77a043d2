"""PNG figures beside the artefacts: progress curves (score), weight histograms per demo class and weight vs
progress increment (weights), per-task success with 95 % intervals (eval).

Each function takes plain arrays, writes one PNG atomically (temp file, then rename) and returns its path.
matplotlib's Agg backend is used so that no display is needed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        _plt().close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_progress_curves(
    curves: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    fps: float,
    reference: Mapping[str, np.ndarray] | None = None,
    reference_label: str = "oracle",
    label: str = "scorer",
    ncols: int = 3,
) -> Path:
    """One panel per episode: predicted progress over time (s), with the reference curve (e.g. the simulator's
    oracle progress) dashed when given. ``curves`` maps a panel title (e.g. "ep 3 · push-v3 · detour") to (T,)."""
    if not curves:
        raise ValueError("no progress curves to plot")
    plt = _plt()
    n = len(curves)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, (title, y) in zip(axes.flat, curves.items()):
        y = np.asarray(y, dtype=float)
        t = np.arange(len(y)) / fps
        ax.plot(t, y, color="C0", lw=1.8, label=label)
        if reference is not None and title in reference:
            r = np.asarray(reference[title], dtype=float)
            ax.plot(np.arange(len(r)) / fps, r, color="C1", lw=1.5, ls="--", label=reference_label)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("progress")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="upper left", fontsize=9)
    fig.suptitle("Progress curves of sampled episodes", fontsize=12)
    return _save(fig, path)


def plot_weight_histograms(
    weight: np.ndarray, classes: np.ndarray, path: str | Path, *, bins: int = 40, title: str = "weights"
) -> Path:
    """Histogram of per-frame weights per demo class (quality, success, segment label …), one colour each, with
    each class's mean weight in the legend."""
    w = np.asarray(weight, dtype=float)
    c = np.asarray(classes).astype(str)
    if len(w) != len(c) or len(w) == 0:
        raise ValueError(f"need one class per weight, got {len(w)} weights and {len(c)} classes")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    edges = np.linspace(w.min(), w.max() if w.max() > w.min() else w.min() + 1.0, bins + 1)
    for name in sorted(set(c)):
        sel = w[c == name]
        ax.hist(sel, bins=edges, alpha=0.55, label=f"{name} (n={len(sel)}, mean {sel.mean():.2f})")
    ax.set_xlabel("per-frame weight")
    ax.set_ylabel("frames")
    ax.set_title(f"{title}: distribution per demo class")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_weight_vs_increment(
    increment: np.ndarray,
    weight: np.ndarray,
    path: str | Path,
    *,
    classes: np.ndarray | None = None,
    max_points: int = 20_000,
    seed: int = 0,
    title: str = "weights",
    xlabel: str = "progress increment over the horizon",
) -> Path:
    """Scatter of each frame's weight against its progress increment (the advantage's raw material), coloured by
    class when given; at most ``max_points`` frames, drawn uniformly at random."""
    x, w = np.asarray(increment, dtype=float), np.asarray(weight, dtype=float)
    if len(x) != len(w):
        raise ValueError(f"{len(x)} increments for {len(w)} weights")
    keep = np.isfinite(x) & np.isfinite(w)
    idx = np.flatnonzero(keep)
    if len(idx) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_points, replace=False))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if classes is None:
        ax.scatter(x[idx], w[idx], s=6, alpha=0.4)
    else:
        c = np.asarray(classes).astype(str)[idx]
        for name in sorted(set(c)):
            ax.scatter(x[idx][c == name], w[idx][c == name], s=6, alpha=0.45, label=name)
        ax.legend(fontsize=9, markerscale=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("per-frame weight")
    ax.set_title(f"{title}: weight vs progress increment")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_success_bars(
    tasks: Sequence[str],
    rate: Sequence[float],
    ci95: Sequence[Sequence[float]],
    path: str | Path,
    *,
    episodes: Sequence[int] | None = None,
    title: str = "success per task",
) -> Path:
    """Bar per task with its 95 % interval (asymmetric, inside [0, 1]) and the episode count under the name."""
    if not (len(tasks) == len(rate) == len(ci95)) or not tasks:
        raise ValueError("need one rate and one interval per task")
    r = np.asarray(rate, dtype=float)
    lo, hi = np.asarray([c[0] for c in ci95], dtype=float), np.asarray([c[1] for c in ci95], dtype=float)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 1.9 * len(tasks) + 1.0), 4.2))
    pos = np.arange(len(tasks))
    ax.bar(pos, r, color="C0", alpha=0.8)
    ax.errorbar(pos, r, yerr=[r - lo, hi - r], fmt="none", ecolor="black", capsize=5, lw=1.3)
    names = [t if episodes is None else f"{t}\n(n={n})" for t, n in zip(tasks, episodes or [0] * len(tasks))]
    ax.set_xticks(pos, names, fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95% CI)")
    ax.set_xlabel("task")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_eval_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """:func:`plot_success_bars` of an eval.json report: training tasks, then held-out tasks (marked)."""
    rows = [(t, v) for t, v in report["tasks"].items()]
    rows += [(f"{t}\n(held out)", v) for t, v in (report.get("heldout_tasks") or {}).items()]
    name = report.get("name") or report.get("weighting") or "policy"
    return plot_success_bars(
        [t for t, _ in rows],
        [v["rate"] for _, v in rows],
        [v["ci95"] for _, v in rows],
        path,
        episodes=[v["episodes"] for _, v in rows],
        title=f"{name}: success per task ({report.get('seed_split', '?')} seeds)",
    )
