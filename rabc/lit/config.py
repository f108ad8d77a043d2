"""Structured schema of ``configs/train.yaml``: Hydra checks keys and types at compose time, so a mistyped key
(``data.batchsize=8``, ``optim.lr=abc``) fails before anything runs. Groups with a ``_target_`` (policy, trainer,
logger, weighting) are checked by their constructors when instantiated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class DataConfig:
    batch_size: int = 32
    num_workers: int = 0
    val_fraction: float = 0.2
    sampling: str = "loss"  # "loss" | "sample"
    fallback_weight: float | None = None
    tasks: list[str] | None = None


@dataclass
class OptimConfig:
    lr: float = 1e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 0


@dataclass
class TrainConfig:
    name: str = "run"
    seed: int = 0
    progress: str | None = None
    weights: str | None = None
    ckpt_path: str | None = None
    checkpoint_every_n_steps: int | None = None
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema_decay: float | None = None
    dataset: Any = None
    policy: Any = None
    weighting: Any = None
    trainer: Any = None
    logger: Any = None


def register() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
