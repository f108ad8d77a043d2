"""Synthetic progress tables for the weighting tests."""

from __future__ import annotations

import numpy as np

from rabc.progress import ProgressTable


def synth_progress(lengths, seed=0, start_index=0, noise=0.05) -> ProgressTable:
    """Episodes of the given lengths, contiguous global indices; progress = noisy ramp in [0, 1]."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    n = int(lengths.sum())
    ep = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    frame = np.arange(n) - starts
    ramp = frame / np.maximum(np.repeat(lengths, lengths) - 1, 1)
    prog = np.clip(ramp + rng.normal(0, noise, n), 0, 1).astype(np.float32)
    return ProgressTable(
        index=np.arange(n) + start_index,
        episode_index=ep,
        frame_index=frame,
        progress=prog,
        provenance={"fps": 10.0, "dataset_fingerprint": "f" * 64},
    )
