"""Lightning data module: a LeRobot v3 dataset split by episode, with per-sample weights attached.

State-only policies read frames from memory (``rabc.data.FrameWindowDataset``, no video decoding); policies with a
camera read lerobot's ``LeRobotDataset`` with ``delta_timestamps``. Either way each item carries ``sample_weight``
looked up by global index, and the loader either weights the loss (``sampling="loss"``) or draws frames ∝ weight
with unit loss weights (``sampling="sample"``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset

from rabc.data.weighted import FrameWindowDataset, WeightedDataset, weighted_sampler
from rabc.weighting import WeightTable

log = logging.getLogger(__name__)

SAMPLING_MODES = ("loss", "sample")


class WeightedDataModule(pl.LightningDataModule):
    """Args:
    frames: a dataset factory ``episodes -> (Dataset, global_index (N,))``: :class:`InMemoryFrames` or
        :class:`LeRobotFrames`.
    train_episodes / val_episodes: disjoint episode indices.
    table: per-frame weights by global index.
    """

    def __init__(
        self,
        frames,
        train_episodes: Sequence[int],
        val_episodes: Sequence[int],
        table: WeightTable,
        *,
        batch_size: int = 32,
        num_workers: int = 0,
        sampling: str = "loss",
        seed: int = 0,
    ):
        super().__init__()
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {SAMPLING_MODES}, got {sampling!r}")
        overlap = set(train_episodes) & set(val_episodes)
        if overlap:
            raise ValueError(f"train and val episodes overlap: {sorted(overlap)[:5]}")
        self.frames, self.table = frames, table
        self.train_episodes, self.val_episodes = list(train_episodes), list(val_episodes)
        self.batch_size, self.num_workers, self.sampling, self.seed = batch_size, num_workers, sampling, seed
        self.train_set: WeightedDataset | None = None
        self.val_set: WeightedDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            ds, index = self.frames(self.train_episodes)
            self.train_set = WeightedDataset(ds, self.table, index)
            if self.sampling == "sample":
                # the sampler carries the weights; the loss then weights every drawn frame equally
                self.sample_weights = self.train_set.weights.clone()
                self.train_set.weights.fill_(1.0)
        if self.val_set is None and self.val_episodes:
            ds, index = self.frames(self.val_episodes)
            self.val_set = WeightedDataset(ds, self.table, index)

    def _loader(self, ds: Dataset, shuffle: bool, sampler=None) -> DataLoader:
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None
        sampler = None
        if self.sampling == "sample":
            sampler = weighted_sampler(self.sample_weights, len(self.train_set), self.seed)
        return self._loader(self.train_set, shuffle=True, sampler=sampler)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val_set is None else self._loader(self.val_set, shuffle=False)


class InMemoryFrames:
    """Frame factory for :class:`WeightedDataModule`: rows of the given episodes, with windows on ``keys``
    (picklable, so it works with every DDP launcher)."""

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        episode_bounds: dict[int, tuple[int, int]],
        delta_indices: dict[str, list[int]],
        keys: Sequence[str],
    ):
        self.columns = {k: v for k, v in columns.items() if k in keys or k in ("index", "episode_index")}
        self.episode_bounds, self.delta_indices = episode_bounds, delta_indices

    def __call__(self, episodes: Sequence[int]) -> tuple[Dataset, np.ndarray]:
        rows = np.isin(self.columns["episode_index"], np.asarray(list(episodes)))
        sub = {k: v[rows] for k, v in self.columns.items()}
        deltas = {k: d for k, d in self.delta_indices.items() if k in sub}
        return FrameWindowDataset(sub, self.episode_bounds, deltas), sub["index"]


class LeRobotFrames:
    """Frame factory for :class:`WeightedDataModule` reading lerobot's ``LeRobotDataset`` (videos decoded per item)."""

    def __init__(
        self, root: str | Path, delta_timestamps: dict[str, list[float]], repo_id: str | None = None
    ):
        self.root, self.delta_timestamps, self.repo_id = root, delta_timestamps, repo_id

    def __call__(self, episodes: Sequence[int]) -> tuple[Dataset, np.ndarray]:
        from rabc.data import load_dataset

        ds = load_dataset(
            self.root, delta_timestamps=self.delta_timestamps, episodes=list(episodes), repo_id=self.repo_id
        )
        return ds, np.asarray(ds.hf_dataset.with_format("numpy")["index"], dtype=np.int64)
