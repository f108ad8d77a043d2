"""A toy per-sample-loss policy and dataset for testing the training loop without lerobot (picklable for DDP)."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, Sampler

from rabc.types import SAMPLE_WEIGHT


class ToyPolicy(nn.Module):
    def __init__(self, dim: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(dim, 1)

    def compute_loss(self, batch: dict) -> torch.Tensor:
        return (self.lin(batch["x"]).squeeze(-1) - batch["y"]) ** 2  # (B,)


class ToyData(Dataset):
    def __init__(self, n: int = 8, weights: torch.Tensor | None = None):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 3, generator=g)
        self.y = torch.randn(n, generator=g)
        self.w = torch.rand(n, generator=g) + 0.1 if weights is None else weights

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "y": self.y[i], SAMPLE_WEIGHT: self.w[i]}


class RankStrided(Sampler):
    """Items rank, rank + world, … in order, with the rank read when iterating (so it pickles into ddp_spawn's
    workers): the global batch k is then items k·B_global … (k+1)·B_global − 1, as in one process."""

    def __init__(self, n: int):
        self.n = n

    def _rank_world(self) -> tuple[int, int]:
        return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)

    def __iter__(self):
        rank, world = self._rank_world()
        return iter(range(rank, self.n, world))

    def __len__(self) -> int:
        rank, world = self._rank_world()
        return len(range(rank, self.n, world))
