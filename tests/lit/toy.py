"""A toy per-sample-loss policy and dataset for testing the training loop without lerobot (picklable for DDP)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

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
