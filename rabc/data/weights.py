"""One ``make_weights``: progress parquet → weights parquet + diagnostics + separation report, for training and
for the weights command alike.

The dataset side (per-frame quality / success labels, per-episode success for the ``episode`` schemes, the
segment labels of a generated dataset) is read here, below both callers; the weighting math stays in
:mod:`rabc.weighting`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from rabc.data.lerobot_io import dataset_info, episode_meta_files
from rabc.data.segments import frame_labels, frame_phases
from rabc.io import RabcFileError
from rabc.weighting import (
    EpisodeInfo,
    WeightingScheme,
    WeightResult,
    compute_weights,
    separation_report,
    weight_diagnostics,
    write_weights,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Weights:
    """What :func:`make_weights` produced: the per-frame result, the weights-file metadata (with
    ``diagnostics``) and the diagnostics (with ``separation`` on a dataset rabc generated)."""

    result: WeightResult
    meta: dict[str, Any]
    diagnostics: dict[str, Any]


def read_dataset_labels(root: str | Path) -> dict[str, np.ndarray]:
    """Per-frame ``index`` (sorted) and, where present, ``episode_index``, ``quality``, ``success`` of a LeRobot v3
    dataset, read from ``<root>/data/chunk-*/file-*.parquet``; the frame count is checked against
    ``meta/info.json``."""
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
    total = dataset_info(root).total_frames
    if total != len(cols["index"]):
        raise RabcFileError(
            f"{root}: meta/info.json says {total} frames, data files hold {len(cols['index'])}"
        )
    return cols


def labels_from_episodes(episodes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-frame ``index`` and (where the sidecar labels episodes) ``quality`` names and ``success`` from
    :func:`rabc.data.episode_table` (episodes are contiguous ranges of the global index)."""
    eps = episodes.sort_values("from_index")
    index = np.arange(int(eps["from_index"].iloc[0]), int(eps["to_index"].iloc[-1]))
    row = np.searchsorted(eps["to_index"].to_numpy(), index, side="right")  # (N,) episode row of each frame
    labels = {"index": index}
    if not eps["success"].isna().any():
        labels["quality"] = eps["quality_name"].to_numpy()[row]
        labels["success"] = eps["success"].to_numpy()[row].astype(bool)
    return labels


def episode_info(episodes: pd.DataFrame) -> EpisodeInfo:
    """Per-episode labels for the schemes that need them, from :func:`rabc.data.episode_table`; a dataset
    without rabc's sidecar (e.g. one written by lerobot's own tools) has none, and only the schemes that need
    them fail, naming the missing column."""
    labelled = not episodes["success"].isna().any()
    return EpisodeInfo(
        episodes["episode_index"].to_numpy(),
        episodes["success"].to_numpy(dtype=bool) if labelled else None,
        episodes["quality_name"].to_numpy() if labelled else None,
    )


def episode_info_from_labels(labels: dict[str, np.ndarray]) -> EpisodeInfo | None:
    """Per-episode success = any frame of the episode flagged successful (per-frame labels of
    :func:`read_dataset_labels`)."""
    if "success" not in labels or "episode_index" not in labels:
        return None
    from rabc.sim.demos import QUALITY_NAMES

    eps, first, inv = np.unique(labels["episode_index"], return_index=True, return_inverse=True)
    success = np.bincount(inv, weights=labels["success"].astype(np.float64), minlength=len(eps)) > 0
    quality = None
    if "quality" in labels:
        quality = np.array([QUALITY_NAMES.get(int(q), str(q)) for q in labels["quality"][first]])
    return EpisodeInfo(eps, success, quality)


def align(labels: dict[str, np.ndarray], index: np.ndarray, where: str | Path) -> dict[str, np.ndarray]:
    """Per-frame labels reordered to the weights' global ``index``; every weighted frame must exist."""
    pos = np.minimum(np.searchsorted(labels["index"], index), len(labels["index"]) - 1)
    found = labels["index"][pos] == index
    if not found.all():
        raise RabcFileError(
            f"{where}: {int((~found).sum())} weighted frames are not in the dataset (e.g. {index[~found][:5].tolist()})"
        )
    if len(labels["index"]) != len(index):
        raise RabcFileError(
            f"{where}: the dataset has {len(labels['index'])} frames, the progress file {len(index)}"
        )
    return {k: v[pos] for k, v in labels.items()}


def phases_if_known(root: str | Path, index: np.ndarray) -> np.ndarray | None:
    """:func:`~rabc.data.segments.frame_phases` of the frames at ``index``, or None (logged) for a folder without
    LeRobot episode metadata, which has no episode lengths to place a frame in its episode."""
    if not episode_meta_files(root):
        log.info("%s: no episode metadata, so no phase coverage", root)
        return None
    return frame_phases(root, index)


def diagnose(
    index: np.ndarray,
    weight: np.ndarray,
    *,
    labels: dict[str, np.ndarray] | None = None,
    dataset_root: str | Path | None = None,
    max_weight: float | None = None,
    near_uniform_cv: float = 0.05,
    min_ess_fraction: float = 0.10,
) -> dict[str, Any]:
    """Weight diagnostics of ``weight`` (N,) at global ``index`` (N,, sorted), by quality / success where
    ``labels`` has them, the phase coverage of all frames (task × tenth of episode) with ``dataset_root``, plus the
    separation report (good vs bad segments) on a dataset rabc generated."""
    per_frame = align(labels, index, dataset_root or "dataset") if labels else {}
    phases = None if dataset_root is None else phases_if_known(dataset_root, index)
    diag = weight_diagnostics(
        weight,
        max_weight=max_weight,
        quality=per_frame.get("quality"),
        success=per_frame.get("success"),
        phases=phases,
        near_uniform_cv=near_uniform_cv,
        min_ess_fraction=min_ess_fraction,
    )
    # a dataset rabc generated (it has frame labels): do good and bad frames separate?
    if dataset_root is not None and (seg := frame_labels(dataset_root)) is not None:
        lab_index, segments, classes = seg
        pos = np.searchsorted(index, lab_index)
        diag["separation"] = separation_report(
            weight[pos],
            segments,
            classes,
            max_weight=max_weight,
            phases=None if phases is None else phases[pos],
        )
    return diag


def make_weights(
    scheme: WeightingScheme,
    progress: str | Path,
    out: str | Path,
    *,
    dataset_root: str | Path | None = None,
    labels: dict[str, np.ndarray] | None = None,
    episode_info: EpisodeInfo | None = None,
    fps: float | None = None,
    expect_num_frames: int | None = None,
    expect_fingerprint: str | None = None,
    min_ess_fraction: float = 0.10,
    near_uniform_cv: float = 0.05,
    extra_meta: dict[str, Any] | None = None,
) -> Weights:
    """Weights of ``scheme`` from the ``progress`` parquet, their diagnostics, written atomically to ``out``.

    Args:
        labels: per-frame ``index`` (sorted) and optional ``quality`` / ``success`` for the diagnostics
            (:func:`read_dataset_labels` or :func:`labels_from_episodes`); must cover exactly the weighted frames.
        episode_info: per-episode labels for the schemes that need them.
        expect_num_frames, expect_fingerprint: check the progress file against the dataset.
        extra_meta: merged into the weights-file metadata (e.g. the scheme's config, the dataset fingerprint).
    """
    result, meta = compute_weights(
        progress,
        scheme,
        fps=fps,
        episode_info=episode_info,
        expect_num_frames=expect_num_frames,
        expect_fingerprint=expect_fingerprint,
    )
    diag = diagnose(
        result.index,
        result.weight,
        labels=labels,
        dataset_root=dataset_root,
        max_weight=scheme.weight_cap(),
        near_uniform_cv=0.0 if scheme.kind == "uniform" else near_uniform_cv,  # uniform is uniform by design
        min_ess_fraction=min_ess_fraction,
    )
    meta["diagnostics"] = diag
    meta.update(extra_meta or {})
    write_weights(out, result, meta)
    return Weights(result, meta, diag)
