"""Compute per-frame weights from a progress parquet and write ``weights.parquet`` (+ diagnostics, histogram).

    python scripts/compute_weights.py progress=PATH weighting=top_awr out=PATH [fps=...] [dataset_root=DIR]

``weighting`` picks a file of ``configs/weighting/``; any of its keys can be overridden, e.g.
``weighting.temperature=std/3 weighting.horizon_s=1.5``. With ``dataset_root`` the dataset's per-frame ``quality`` /
``success`` columns (if present) are read with pyarrow for the diagnostics and the ``episode`` scheme, and the
frame count is checked against ``meta/info.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pyarrow.parquet as pq
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from rabc.io import RabcFileError
from rabc.weighting import (
    EpisodeInfo,
    WeightingScheme,
    compute_weights,
    format_diagnostics,
    format_separation,
    plot_weight_histogram,
    separation_report,
    weight_diagnostics,
    write_weights,
)

log = logging.getLogger("compute_weights")


def read_dataset_labels(root: str | Path) -> dict[str, np.ndarray]:
    """Per-frame ``index`` (sorted) and, where present, ``episode_index``, ``quality``, ``success`` of a LeRobot v3
    dataset, read from ``<root>/data/chunk-*/file-*.parquet``."""
    root = Path(root)
    files = sorted(root.glob("data/chunk-*/file-*.parquet"))
    if not files:
        raise RabcFileError(f"{root}: no data/chunk-*/file-*.parquet files (not a LeRobot v3 dataset root?)")
    wanted = ("index", "episode_index", "quality", "success")
    parts: dict[str, list[np.ndarray]] = {}
    for f in files:
        names = pq.read_schema(f).names
        if "index" not in names:
            raise RabcFileError(f"{f}: no 'index' column")
        t = pq.read_table(f, columns=[c for c in wanted if c in names])
        for c in t.column_names:
            parts.setdefault(c, []).append(
                np.asarray(t.column(c).to_numpy(zero_copy_only=False)).reshape(len(t), -1)[:, 0]
            )
    cols = {k: np.concatenate(v) for k, v in parts.items() if len(v) == len(files)}
    order = np.argsort(cols["index"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    info = root / "meta" / "info.json"
    if info.is_file():
        total = json.loads(info.read_text()).get("total_frames")
        if total is not None and int(total) != len(cols["index"]):
            raise RabcFileError(
                f"{root}: meta/info.json says {total} frames, data files hold {len(cols['index'])}"
            )
    return cols


def align(labels: dict[str, np.ndarray], index: np.ndarray, root: str) -> dict[str, np.ndarray]:
    """Dataset columns reordered to the weights' global ``index``; every weighted frame must exist."""
    pos = np.minimum(np.searchsorted(labels["index"], index), len(labels["index"]) - 1)
    found = labels["index"][pos] == index
    if not found.all():
        raise RabcFileError(
            f"{root}: {int((~found).sum())} weighted frames are not in the dataset (e.g. {index[~found][:5].tolist()})"
        )
    if len(labels["index"]) != len(index):
        raise RabcFileError(
            f"{root}: the dataset has {len(labels['index'])} frames, the progress file {len(index)}"
        )
    return {k: v[pos] for k, v in labels.items()}


def episode_info_from(labels: dict[str, np.ndarray]) -> EpisodeInfo | None:
    """Per-episode success = any frame of the episode flagged successful."""
    if "success" not in labels or "episode_index" not in labels:
        return None
    from rabc.sim.demos import QUALITY_NAMES

    eps, first, inv = np.unique(labels["episode_index"], return_index=True, return_inverse=True)
    success = np.bincount(inv, weights=labels["success"].astype(np.float64), minlength=len(eps)) > 0
    quality = None
    if "quality" in labels:
        quality = np.array([QUALITY_NAMES.get(int(q), str(q)) for q in labels["quality"][first]])
    return EpisodeInfo(eps, success, quality)


def run(cfg: DictConfig) -> dict[str, Any]:
    scheme: WeightingScheme = instantiate(cfg.weighting)
    steps = tqdm(total=4, desc=f"weights ({scheme.name})", unit="step")
    labels: dict[str, np.ndarray] = {}
    episode_info = None
    if cfg.dataset_root is not None:
        labels = read_dataset_labels(cfg.dataset_root)
        episode_info = episode_info_from(labels)
    steps.update()
    result, meta = compute_weights(cfg.progress, scheme, fps=cfg.fps, episode_info=episode_info)
    steps.update()
    per_frame = align(labels, result.index, cfg.dataset_root) if labels else {}
    near_uniform_cv = 0.0 if scheme.kind == "uniform" else cfg.near_uniform_cv  # uniform is uniform by design
    diag = weight_diagnostics(
        result.weight,
        max_weight=getattr(scheme, "max_weight", None),
        quality=per_frame.get("quality"),
        success=per_frame.get("success"),
        near_uniform_cv=near_uniform_cv,
        min_ess_fraction=cfg.min_ess_fraction,
    )
    if cfg.dataset_root is not None:
        from rabc.data.segments import frame_labels

        labels_ = frame_labels(cfg.dataset_root)
        if labels_ is not None:  # a dataset rabc generated: do the weights separate good frames from bad ones?
            lab_index, segments, classes = labels_
            pos = np.searchsorted(result.index, lab_index)
            diag["separation"] = separation_report(
                result.weight[pos], segments, classes, max_weight=getattr(scheme, "max_weight", None)
            )
    meta["diagnostics"] = diag
    meta["config"] = OmegaConf.to_container(cfg.weighting, resolve=True)
    write_weights(cfg.out, result, meta)
    steps.update()
    if cfg.histogram:
        out = Path(cfg.out)
        plot_weight_histogram(result.weight, out.with_name(f"{out.stem}_hist.png"), title=scheme.name)
    steps.update()
    steps.close()
    if meta["horizon_frames"] is not None:
        h_s, h_f = meta["horizon_s"], meta["horizon_frames"]
        print(f"{scheme.name}: horizon {h_s:.4g} s = {h_f} frames at {meta['fps']:g} fps")
    print(format_diagnostics(diag))
    if "separation" in diag:
        print(format_separation(diag["separation"]))
    print(f"wrote {cfg.out}")
    return meta


@hydra.main(version_base="1.3", config_path="../configs", config_name="compute_weights")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
