"""Per-frame segment labels (good / detour / fail_tail / ...) and demo classes of a dataset rabc generated.

The labels come from the generator's sidecar (what was done to each demo) and the dataset's oracle progress; see
:mod:`rabc.weighting.separation` for their meaning. A dataset rabc did not generate has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rabc.data.lerobot_io import read_sidecar
from rabc.data.oracle import read_oracle_progress
from rabc.weighting.separation import BAD, segment_labels


def frame_phases(root: str | Path, index: np.ndarray, tenths: int = 10) -> np.ndarray:
    """(N,) str: the task and tenth of its episode of each frame at global ``index`` (for the phase coverage of
    :func:`rabc.weighting.separation_report`); "" for the episodes of held-out tasks, which no policy trains on."""
    from rabc.data.lerobot_io import episode_table

    eps = episode_table(root).sort_values("from_index")
    row = np.searchsorted(eps["to_index"].to_numpy(), index, side="right")
    start, length = eps["from_index"].to_numpy()[row], eps["length"].to_numpy()[row]
    tenth = np.minimum((index - start) * tenths // np.maximum(length, 1), tenths - 1)
    env_task = eps["env_task"].to_numpy()[row]
    task = np.where(env_task != "", env_task, eps["task"].to_numpy()[row])
    key = np.char.add(np.char.add(task.astype(str), " "), np.char.add((tenth + 1).astype(str), f"/{tenths}"))
    return np.where(eps["heldout"].to_numpy(dtype=bool)[row], "", key)


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


def bad_frames(labels: tuple[np.ndarray, np.ndarray, np.ndarray], start: int, n: int) -> np.ndarray:
    """(n,) bool: which of the frames with global index ``start .. start + n - 1`` lie in a bad segment
    (:data:`rabc.weighting.separation.BAD`), from the ``labels`` :func:`frame_labels` returned."""
    index, segments, _ = labels
    return np.isin(segments[np.searchsorted(index, np.arange(start, start + n))], BAD)
