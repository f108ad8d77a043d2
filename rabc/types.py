"""Batch-key constants shared by every layer (lerobot's own names) and small Protocols."""

from __future__ import annotations

from typing import Protocol

import torch

OBS_STATE = "observation.state"
OBS_ENV_STATE = "observation.environment_state"
OBS_IMAGE_PREFIX = "observation.images."
ACTION = "action"
ACTION_IS_PAD = "action_is_pad"
INDEX = "index"
EPISODE_INDEX = "episode_index"
FRAME_INDEX = "frame_index"
TASK = "task"
TIMESTAMP = "timestamp"

#: Per-sample loss weight added to a batch by the weighted dataset; policies never read it.
SAMPLE_WEIGHT = "sample_weight"

#: Extra per-frame features written by the rabc demo generator.
QUALITY = "quality"
SUCCESS = "success"
ORACLE_PROGRESS = "progress_oracle"


def image_key(camera: str) -> str:
    return f"{OBS_IMAGE_PREFIX}{camera}"


class PerSampleLossPolicy(Protocol):
    """What the training loop needs from a policy adapter."""

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-sample training loss, shape (B,), padding excluded per sample."""
        ...
