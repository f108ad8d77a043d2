"""The one oracle-progress provider: where a dataset's simulator progress lives and how it is read.

A dataset rabc generated stores the simulator's per-frame oracle progress (rabc.sim.oracle) twice: in lerobot's
progress format at ``progress/oracle.parquet`` (the file training, weighting and the reward tables use) and as
the per-frame ``progress_oracle`` data column. :func:`read_oracle_progress` reads the parquet, checked against the
dataset's fingerprint when the generator recorded one, and falls back to the column for a dataset that has only
that. The path helpers live in rabc.progress (light enough for the report layer to import); every consumer (the oracle scorer, the separation labels, the scorer fine-tune, the reproduce sweep, the
weight analysis) asks it instead of building the path itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from rabc.data.lerobot_io import read_sidecar
from rabc.io import RabcFileError
from rabc.progress import (
    ORACLE_PROGRESS_PATH,
    ProgressTable,
    is_oracle_progress,
    oracle_progress_path,
    read_progress,
)
from rabc.types import ORACLE_PROGRESS


def read_oracle_progress(root: str | Path) -> ProgressTable:
    """The dataset's oracle progress, sorted by global ``index``; ``provenance["source"]`` names where it came
    from. Raises :class:`RabcFileError` naming the file when neither the parquet nor the column exists, or when
    the parquet belongs to another dataset (fingerprint recorded by the generator)."""
    root = Path(root)
    path = oracle_progress_path(root)
    if path.is_file():
        side = read_sidecar(root) or {}
        table = read_progress(path, expect_fingerprint=side.get("dataset_fingerprint"))
        table.provenance.setdefault("source", str(path))
        return table
    return _from_column(root)


def _from_column(root: Path) -> ProgressTable:
    files = sorted(root.glob("data/chunk-*/file-*.parquet"))
    if not files:
        raise RabcFileError(f"{root}: neither {ORACLE_PROGRESS_PATH} nor data/chunk-*/file-*.parquet exist")
    parts = []
    for f in files:
        if ORACLE_PROGRESS not in pq.read_schema(f).names:
            raise RabcFileError(f"{f}: no {ORACLE_PROGRESS!r} column and no {root / ORACLE_PROGRESS_PATH}")
        parts.append(pq.read_table(f, columns=["index", "episode_index", "frame_index", ORACLE_PROGRESS]))
    cols = {
        c: np.concatenate([np.asarray(p.column(c).to_numpy()) for p in parts]) for c in parts[0].column_names
    }
    order = np.argsort(cols["index"], kind="stable")
    return ProgressTable(
        cols["index"][order],
        cols["episode_index"][order],
        cols["frame_index"][order],
        cols[ORACLE_PROGRESS][order],
        provenance={"source": f"{root}/data (column {ORACLE_PROGRESS})"},
    )


__all__ = ["ORACLE_PROGRESS_PATH", "is_oracle_progress", "oracle_progress_path", "read_oracle_progress"]
