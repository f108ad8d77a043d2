"""``weights``: per-frame weights from a progress parquet → ``weights.parquet`` (+ diagnostics, figures).

The same :func:`rabc.data.weights.make_weights` as training; with ``dataset_root`` the dataset's per-frame
``quality`` / ``success`` columns (if present) feed the diagnostics and the ``episode`` schemes, the frame count
is checked against ``meta/info.json``, and a dataset rabc generated gets the separation report.

With ``histogram`` (default) two PNGs go beside the weights: ``<stem>_hist.png``, the weight histogram (one per
demo class when the dataset labels its episodes' quality), and ``<stem>_vs_increment.png``, each frame's weight
against its progress increment over the scheme's horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from rabc.data.weights import align, episode_info_from_labels, make_weights, read_dataset_labels
from rabc.progress import read_progress
from rabc.report.plots import plot_weight_histograms, plot_weight_vs_increment
from rabc.weighting import WeightingScheme, format_diagnostics, format_separation, plot_weight_histogram
from rabc.weighting.core import WeightResult, apply_nan_policy, increments, segments


@dataclass(frozen=True)
class WeightsResult:
    out: Path
    scheme: str
    meta: dict[str, Any]  # the weights-file metadata, diagnostics included
    histogram: Path | None
    plots: tuple[Path, ...] = ()  # every PNG written beside ``out`` (the histogram first)

    def summary(self) -> str:
        lines = []
        if self.meta["horizon_frames"] is not None:
            h_s, h_f = self.meta["horizon_s"], self.meta["horizon_frames"]
            lines.append(f"{self.scheme}: horizon {h_s:.4g} s = {h_f} frames at {self.meta['fps']:g} fps")
        diag = self.meta["diagnostics"]
        lines.append(format_diagnostics(diag))
        if "separation" in diag:
            lines.append(format_separation(diag["separation"]))
        lines.append(f"wrote {self.out}")
        return "\n".join(lines)


def run(cfg: DictConfig) -> WeightsResult:
    scheme: WeightingScheme = instantiate(cfg.weighting)
    with tqdm(total=3, desc=f"weights ({scheme.name})", unit="step") as steps:  # closed before any error line
        labels = read_dataset_labels(cfg.dataset_root) if cfg.dataset_root is not None else None
        steps.update()
        made = make_weights(
            scheme,
            cfg.progress,
            cfg.out,
            dataset_root=cfg.dataset_root,
            labels=labels,
            episode_info=episode_info_from_labels(labels) if labels else None,
            fps=cfg.fps,
            near_uniform_cv=cfg.near_uniform_cv,
            min_ess_fraction=cfg.min_ess_fraction,
            extra_meta={"config": OmegaConf.to_container(cfg.weighting, resolve=True)},
        )
        steps.update()
        hist: Path | None = None
        plots: tuple[Path, ...] = ()
        if cfg.histogram:
            plots = write_plots(made.result, made.meta, cfg.progress, cfg.out, labels, cfg.dataset_root)
            hist = plots[0]
        steps.update()
    return WeightsResult(Path(cfg.out), scheme.name, made.meta, hist, plots)


def frame_classes(
    labels: dict[str, np.ndarray] | None, index: np.ndarray, where: str | Path
) -> np.ndarray | None:
    """Demo class (quality name) of each weighted frame, or None when the dataset does not label quality."""
    if not labels or "quality" not in labels:
        return None
    from rabc.sim.demos import QUALITY_NAMES

    quality = align(labels, index, where)["quality"]
    return np.array([QUALITY_NAMES.get(int(q), str(q)) for q in quality])


def progress_increments(
    progress: str | Path, index: np.ndarray, meta: dict[str, Any]
) -> tuple[np.ndarray, str]:
    """Each weighted frame's progress increment over the scheme's horizon and direction (one frame backward for
    a scheme without one), NaN where the progress is not finite; with the axis label."""
    table = read_progress(progress)
    if not np.array_equal(table.index, index):
        raise ValueError(f"{progress}: its frames are not the weighted frames")
    derived = meta.get("derived") or {}
    horizon = int(meta.get("horizon_frames") or 1)
    direction = str(derived.get("direction") or "backward")
    seg = segments(table)
    p, valid, _ = apply_nan_policy(table.progress, seg, "zero")
    d, _ = increments(
        p, valid, seg, horizon, direction, bool((meta.get("params") or {}).get("rescale_partial"))
    )
    return d, f"progress increment, {direction} over {horizon} frame{'s' * (horizon != 1)}"


def write_plots(
    result: WeightResult,
    meta: dict[str, Any],
    progress: str | Path,
    out: str | Path,
    labels: dict[str, np.ndarray] | None,
    dataset_root: str | Path | None,
) -> tuple[Path, Path]:
    """``<stem>_hist.png`` (per demo class where labelled) and ``<stem>_vs_increment.png`` beside ``out``."""
    out = Path(out)
    name = str(meta.get("name") or meta.get("scheme"))
    classes = frame_classes(labels, result.index, dataset_root or out)
    hist = out.with_name(f"{out.stem}_hist.png")
    if classes is not None:
        diag = meta.get("diagnostics") or {}
        title = f"{name} (ESS {diag.get('ess_fraction', float('nan')):.0%}, zero {diag.get('zero_fraction', 0):.0%})"
        plot_weight_histograms(result.weight, classes, hist, title=title)
    else:
        plot_weight_histogram(result.weight, hist, title=name)
    inc, xlabel = progress_increments(progress, result.index, meta)
    scatter = plot_weight_vs_increment(
        inc, result.weight, out.with_name(f"{out.stem}_vs_increment.png"), classes=classes, title=name,
        xlabel=xlabel,
    )  # fmt: skip
    return hist, scatter
