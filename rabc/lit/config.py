"""Structured schema of ``configs/train.yaml``: Hydra checks keys and types at compose time, so a mistyped key
(``data.batchsize=8``, ``optimizer.lr=abc``) fails before anything runs. Groups with a ``_target_`` (policy, trainer,
logger, weighting, scheduler) are checked by their constructors when instantiated. Defaults equal
``configs/train.yaml``."""

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
class OptimizerConfig:
    """A Hydra partial: ``instantiate(cfg.optimizer)(params)`` is ``torch.optim.AdamW(params, lr, weight_decay)``."""

    _target_: str = "torch.optim.AdamW"
    _partial_: bool = True
    lr: float = 1e-4
    weight_decay: float = 1e-4


@dataclass
class TensorBoardConfig:
    """What a TensorBoard logger shows beyond the training scalars (rabc.lit.callbacks)."""

    weight_histograms: bool = True
    progress_episodes: int = 4
    hparams: bool = True
    rollout_every_n_steps: int | None = None  # None = no rollout evaluation during training
    rollout_episodes: int = 2
    rollout_max_steps: int | None = None
    rollout_batch_size: int = 2
    rollout_frames: int = 8


@dataclass
class TrainConfig:
    name: str = "run"
    preset: str | None = None  # the reproduce preset that trained the run
    seed: int = 0
    progress: str | None = None
    weights: str | None = None
    ckpt_path: str | None = None
    checkpoint_every_n_steps: int | None = None
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: Any = None  # ``optimizer -> LRScheduler`` partial (configs/scheduler/), None = constant lr
    ema_decay: float | None = None
    tensorboard: TensorBoardConfig = field(default_factory=TensorBoardConfig)
    dataset: Any = None
    policy: Any = None
    weighting: Any = None
    trainer: Any = None
    logger: Any = None


def register() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
