"""The progress parquet: the contract between scoring (rabc.reward, the sim oracle) and training.

Columns follow lerobot 0.6.1's RA-BC format so its ``RABCWeights`` reads our files unchanged:

    index (int64, global frame index), episode_index (int64), frame_index (int64),
    progress_sparse (float32, normalised progress in [0, 1] per frame)

plus optional extra columns (raw scores, ...). Provenance (dataset fingerprint, frame count, scorer id, prompt,
K, fps, rabc version, ...) is stored as JSON in the parquet metadata under the key ``rabc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rabc.io import RabcFileError, provenance_stamp, read_parquet, write_parquet

PROGRESS_COLUMN = "progress_sparse"
REQUIRED_COLUMNS = ("index", "episode_index", "frame_index", PROGRESS_COLUMN)


@dataclass
class ProgressTable:
    """Per-frame progress, sorted by global ``index``. Arrays all have shape (N,)."""

    index: np.ndarray  # int64
    episode_index: np.ndarray  # int64
    frame_index: np.ndarray  # int64
    progress: np.ndarray  # float32, may hold NaN (what to do with it is the weighting's explicit policy)
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def __post_init__(self) -> None:
        self.index = np.asarray(self.index, dtype=np.int64)
        self.episode_index = np.asarray(self.episode_index, dtype=np.int64)
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64)
        self.progress = np.asarray(self.progress, dtype=np.float32)
        n = len(self.index)
        columns = {
            "episode_index": self.episode_index,
            "frame_index": self.frame_index,
            "progress": self.progress,
        }
        for name, arr in {**columns, **self.extra}.items():
            if len(arr) != n:
                raise ValueError(f"progress table column {name!r} has {len(arr)} rows, expected {n}")
        if n and np.any(np.diff(self.index) <= 0):
            order = np.argsort(self.index, kind="stable")
            if np.any(np.diff(self.index[order]) == 0):
                dup = self.index[order][np.flatnonzero(np.diff(self.index[order]) == 0)[0]]
                raise ValueError(f"progress table has duplicate global index {int(dup)}")
            self.index, self.episode_index = self.index[order], self.episode_index[order]
            self.frame_index, self.progress = self.frame_index[order], self.progress[order]
            self.extra = {k: np.asarray(v)[order] for k, v in self.extra.items()}

    def to_arrow(self) -> pa.Table:
        cols = {
            "index": pa.array(self.index, pa.int64()),
            "episode_index": pa.array(self.episode_index, pa.int64()),
            "frame_index": pa.array(self.frame_index, pa.int64()),
            PROGRESS_COLUMN: pa.array(self.progress, pa.float32()),
        }
        cols.update({k: pa.array(np.asarray(v)) for k, v in self.extra.items()})
        return pa.table(cols)


def write_progress(path: str | Path, table: ProgressTable) -> None:
    """Atomically write ``table`` with its provenance (:func:`rabc.io.provenance_stamp` added)."""
    provenance = {**provenance_stamp(), "num_frames": len(table), **table.provenance}
    provenance.setdefault("num_episodes", int(len(np.unique(table.episode_index))))
    write_parquet(path, table.to_arrow(), provenance)


def read_progress(
    path: str | Path,
    *,
    expect_num_frames: int | None = None,
    expect_fingerprint: str | None = None,
) -> ProgressTable:
    """Read and validate a progress parquet (ours or lerobot's).

    Raises :class:`RabcFileError` naming the file when columns are missing, indices repeat, or the provenance
    does not match the dataset it is used with (frame count, fingerprint). Files without provenance (e.g.
    written by lerobot) are accepted and checked by frame count only.
    """
    table, meta = read_parquet(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise RabcFileError(f"{path}: progress parquet lacks column(s) {missing}; has {table.column_names}")
    if expect_fingerprint is not None and meta.get("dataset_fingerprint") not in (None, expect_fingerprint):
        raise RabcFileError(
            f"{path}: progress was computed on another dataset (fingerprint {meta['dataset_fingerprint'][:12]}…, "
            f"this dataset {expect_fingerprint[:12]}…)"
        )
    if expect_num_frames is not None and table.num_rows != expect_num_frames:
        raise RabcFileError(
            f"{path}: progress covers {table.num_rows} frames but the dataset has {expect_num_frames}"
        )
    extra = {c: table.column(c).to_numpy() for c in table.column_names if c not in REQUIRED_COLUMNS}
    try:
        return ProgressTable(
            index=table.column("index").to_numpy(),
            episode_index=table.column("episode_index").to_numpy(),
            frame_index=table.column("frame_index").to_numpy(),
            progress=table.column(PROGRESS_COLUMN).to_numpy(zero_copy_only=False),
            provenance=meta,
            extra=extra,
        )
    except ValueError as e:
        raise RabcFileError(f"{path}: {e}") from e


def mean_progress(tables: Sequence[ProgressTable], names: Sequence[str] | None = None) -> ProgressTable:
    """The frame-wise mean of several progress tables of the same frames: an ensemble of scorers.

    Each member's progress is already normalised per episode (Eq. 2), so the mean is too. Measured for the
    in-domain scorer from three seeds (rabc/reward/README.md, "A scorer that sees detours"): the mean separated
    good from bad frames better than each member once (AUC 0.885 vs 0.862 / 0.846 / 0.730) and worse than the best
    member twice, so the default recipe keeps the best member on validation episodes instead. A NaN in any member
    stays NaN (the weighting's ``nan_policy`` decides). Provenance: the fields every member agrees on (dataset
    fingerprint, fps, ...) plus ``ensemble`` = {"method", "members": [each member's provenance]}.

    Raises:
        ValueError: fewer than two tables, or a member covering other frames (named by ``names``).
    """
    if len(tables) < 2:
        raise ValueError(f"an ensemble needs at least two progress tables, got {len(tables)}")
    names = list(names) if names is not None else [f"member {i}" for i in range(len(tables))]
    first = tables[0]
    for name, t in zip(names[1:], tables[1:]):
        same = len(t) == len(first) and all(
            np.array_equal(getattr(t, c), getattr(first, c))
            for c in ("index", "episode_index", "frame_index")
        )
        if not same:
            raise ValueError(f"{name}: covers other frames than {names[0]} ({len(t)} vs {len(first)} rows)")
    shared = {
        k: v
        for k, v in first.provenance.items()
        if all(k in t.provenance and t.provenance[k] == v for t in tables[1:])
    }
    members = [{"name": n, "provenance": t.provenance} for n, t in zip(names, tables)]
    provenance = {
        **shared,
        "ensemble": {"method": "mean of per-episode normalised progress", "members": members},
    }
    progress = np.mean(np.stack([t.progress.astype(np.float64) for t in tables]), axis=0)
    return ProgressTable(first.index, first.episode_index, first.frame_index, progress, provenance)


ORACLE_PROGRESS_PATH = "progress/oracle.parquet"


def oracle_progress_path(root: str | Path) -> Path:
    """``<root>/progress/oracle.parquet``: where the generator writes a dataset's oracle progress."""
    return Path(root) / ORACLE_PROGRESS_PATH


def is_oracle_progress(progress: str | Path, dataset_root: str | Path | None = None) -> bool:
    """Whether a progress parquet is a dataset's own oracle progress (of ``dataset_root`` when given)."""
    p = Path(progress)
    if p.name != Path(ORACLE_PROGRESS_PATH).name or p.parent.name != Path(ORACLE_PROGRESS_PATH).parent.name:
        return False
    return dataset_root is None or p.parent.parent.resolve() == Path(dataset_root).resolve()
