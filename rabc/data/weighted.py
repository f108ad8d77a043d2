"""Per-sample weights on dataset items, weighted sampling, and a fast in-memory frame-window dataset.

``WeightedDataset`` attaches ``sample_weight`` to each item, looked up once for all positions by **global**
``index`` with ``rabc.weighting.WeightTable.lookup`` (a frame without a weight is an error unless the table has an
explicit fallback weight).

``FrameWindowDataset`` is written by hand for one reason: lerobot's ``LeRobotDataset.__getitem__`` decodes every
camera's video for every item, even when the policy reads no image — on a CPU that dominates a state-only training
step. It holds the non-video columns as tensors and builds the same delta-index windows with the same semantics as
lerobot 0.6.1's reader (indices clamped to the episode, ``<key>_is_pad`` flags outside it); a parity test pins it to
lerobot's own ``__getitem__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from rabc.types import EPISODE_INDEX, INDEX, SAMPLE_WEIGHT, TASK
from rabc.weighting import WeightTable


class WeightedDataset(Dataset):
    """Wraps any map-style dataset whose items carry ``index``; adds ``sample_weight`` (float32 scalar)."""

    def __init__(self, dataset: Dataset, table: WeightTable, dataset_index: np.ndarray):
        """``dataset_index``: (len(dataset),) global index of each dataset position."""
        if len(dataset_index) != len(dataset):  # type: ignore[arg-type]
            raise ValueError(f"{len(dataset_index)} indices for a dataset of {len(dataset)} items")  # type: ignore[arg-type]
        self.dataset = dataset
        self.dataset_index = np.asarray(dataset_index, dtype=np.int64)
        self.weights = torch.from_numpy(np.asarray(table.lookup(self.dataset_index), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.weights)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.dataset[i])
        if int(item[INDEX]) != int(self.dataset_index[i]):
            raise RuntimeError(
                f"dataset position {i} returned index {int(item[INDEX])}, expected {self.dataset_index[i]}"
            )
        item[SAMPLE_WEIGHT] = self.weights[i]
        return item


def weighted_sampler(
    weights: np.ndarray | torch.Tensor, num_samples: int, seed: int
) -> WeightedRandomSampler:
    """Draw dataset positions with probability ∝ weight (with replacement): weighting by sampling."""
    w = torch.as_tensor(weights, dtype=torch.double)
    if float(w.sum()) <= 0:
        raise ValueError("all weights are zero: nothing to sample")
    # torch annotates ``weights`` as Sequence[float]; it converts them with torch.as_tensor, so a tensor is fine
    return WeightedRandomSampler(
        cast("Sequence[float]", w),
        num_samples,
        replacement=True,
        generator=torch.Generator().manual_seed(seed),
    )


class FrameWindowDataset(Dataset):
    """Non-video frames held in memory, with lerobot's delta-index windows.

    Args:
        columns: per-frame arrays sorted by global ``index``, including ``index`` and ``episode_index``; feature
            arrays have shape (N, ...).
        episode_bounds: {episode_index: (dataset_from_index, dataset_to_index)} in global indices.
        delta_indices: {key: [frame offsets]} (lerobot's ``delta_indices``), e.g. {"action": [0..chunk-1]}.
        tasks: task string per frame (N,), or None.
    """

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        episode_bounds: dict[int, tuple[int, int]],
        delta_indices: Mapping[str, Sequence[int]] | None = None,
        tasks: Sequence[str] | None = None,
    ):
        self.index = np.asarray(columns[INDEX], dtype=np.int64)
        if np.any(np.diff(self.index) <= 0):
            raise ValueError("columns must be sorted by a strictly increasing global index")
        ep = np.asarray(columns[EPISODE_INDEX], dtype=np.int64)
        episodes, self.ep_row = np.unique(ep, return_inverse=True)  # (E,), (N,) row -> position in `episodes`
        self.ep_from = np.array([episode_bounds[int(e)][0] for e in episodes], dtype=np.int64)
        self.ep_to = np.array([episode_bounds[int(e)][1] for e in episodes], dtype=np.int64)
        if np.any(self.index < self.ep_from[self.ep_row]) or np.any(self.index >= self.ep_to[self.ep_row]):
            raise ValueError("a frame's global index lies outside its episode's bounds")
        self.tensors = {k: torch.as_tensor(np.asarray(v)) for k, v in columns.items()}
        self.delta = {k: torch.as_tensor(list(d), dtype=torch.long) for k, d in (delta_indices or {}).items()}
        for k in self.delta:
            if k not in self.tensors:
                raise KeyError(f"delta_indices names {k!r}, which is not a column ({sorted(self.tensors)})")
        self.tasks = None if tasks is None else list(tasks)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        item: dict[str, Any] = {k: v[i] for k, v in self.tensors.items()}
        ep_i = self.ep_row[i]
        lo, hi = int(self.ep_from[ep_i]), int(self.ep_to[ep_i])
        abs_idx = int(self.index[i])
        row0 = i - (abs_idx - lo)  # row of the episode's first frame (whole episodes, contiguous rows)
        for key, d in self.delta.items():
            q = abs_idx + d  # (T,)
            item[f"{key}_is_pad"] = (q < lo) | (q >= hi)
            rows = row0 + (q.clamp(lo, hi - 1) - lo)
            item[key] = self.tensors[key][rows]
        if self.tasks is not None:
            item[TASK] = self.tasks[i]
        return item
