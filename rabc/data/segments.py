"""Per-frame segment labels (good / detour / fail_tail / ...) and demo classes of a dataset rabc generated.

The labels come from the generator's sidecar (what was done to each demo) and the dataset's oracle progress; see
:mod:`rabc.weighting.separation` for their meaning. A dataset rabc did not generate has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rabc.data.lerobot_io import read_sidecar
from rabc.data.oracle import read_oracle_progress
from rabc.weighting.separation import segment_labels


def frame_labels(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(index, segments, classes), each (N,) sorted by global frame ``index``; None without the sidecar."""
    root = Path(root)
    side = read_sidecar(root)
    if side is None:
        return None
    oracle = read_oracle_progress(root)
    order = np.argsort(oracle.index, kind="stable")
    ep, p = oracle.episode_index[order], oracle.progress[order]
    segments, classes = segment_labels(ep, p, side["episodes"])
    return oracle.index[order], segments, classes
