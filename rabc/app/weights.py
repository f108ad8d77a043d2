"""``weights``: per-frame weights from a progress parquet → ``weights.parquet`` (+ diagnostics, histogram).

The same :func:`rabc.data.weights.make_weights` as training; with ``dataset_root`` the dataset's per-frame
``quality`` / ``success`` columns (if present) feed the diagnostics and the ``episode`` schemes, the frame count
is checked against ``meta/info.json``, and a dataset rabc generated gets the separation report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from rabc.data.weights import episode_info_from_labels, make_weights, read_dataset_labels
from rabc.weighting import WeightingScheme, format_diagnostics, format_separation, plot_weight_histogram


@dataclass(frozen=True)
class WeightsResult:
    out: Path
    scheme: str
    meta: dict[str, Any]  # the weights-file metadata, diagnostics included
    histogram: Path | None

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
        hist = None
        if cfg.histogram:
            out = Path(cfg.out)
            hist = out.with_name(f"{out.stem}_hist.png")
            plot_weight_histogram(made.result.weight, hist, title=scheme.name)
        steps.update()
    return WeightsResult(Path(cfg.out), scheme.name, made.meta, hist)
