"""The adapter contract over a lerobot policy: per-sample loss, action selection, export.

An adapter is an ``nn.Module`` whose only child is the wrapped lerobot ``PreTrainedPolicy`` (``adapter.policy``),
so optimisers, Lightning checkpoints and EMA see exactly lerobot's parameters (under the ``policy.`` prefix).
Adapters work on *normalised* batches (the lerobot preprocessor runs in the data pipeline) and never see weights:
the one reducer is ``rabc.weighting.weighted_mean``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from rabc.types import ACTION, ACTION_IS_PAD

if TYPE_CHECKING:
    from lerobot.policies.pretrained import PreTrainedPolicy

logger = logging.getLogger(__name__)


def require_keys(batch: dict[str, Any], keys: list[str], who: str) -> None:
    """Raise a ``KeyError`` naming every missing batch key (lerobot would fail on an ``assert``)."""
    missing = [k for k in keys if k not in batch]
    if missing:
        raise KeyError(f"{who}: batch lacks {missing}; it has {sorted(batch)}")


def valid_mask(batch: dict[str, Tensor]) -> Tensor:
    """(B, T) bool, True where the action is a real frame of the episode (``~action_is_pad``)."""
    require_keys(batch, [ACTION], "valid_mask")
    action = batch[ACTION]  # (B, T, A)
    if ACTION_IS_PAD not in batch:
        return torch.ones(action.shape[:2], dtype=torch.bool, device=action.device)
    is_pad = batch[ACTION_IS_PAD]
    if is_pad.shape != action.shape[:2]:
        raise ValueError(
            f"{ACTION_IS_PAD} has shape {tuple(is_pad.shape)}, expected {tuple(action.shape[:2])}"
        )
    return ~is_pad.bool()


def masked_mean_per_sample(err: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of ``err`` over the valid elements of each sample.

    Args:
        err: (B, T, A) element-wise error.
        valid: (B, T) bool.
    Returns:
        per-sample mean (B,) = Σ_{t,a} err·valid / (Σ_t valid · A), and the element count (B,) it divides by.
        A sample without a valid step gets loss 0 (count clamped to 1), as lerobot's ``clamp_min(1)``.
    """
    mask = valid.unsqueeze(-1).to(err.dtype)  # (B, T, 1)
    count = valid.sum(dim=1).to(err.dtype) * err.shape[-1]  # (B,)
    return (err * mask).sum(dim=(1, 2)) / count.clamp_min(1), count


def edge_pad_actions(action: Tensor, valid: Tensor) -> Tensor:
    """Replace padded action slots by a copy of the nearest valid action of the same sample.

    This is what ``LeRobotDataset`` itself puts there (out-of-episode queries are clamped to the episode edge),
    so on real batches it is the identity; it makes losses whose *inputs* include the whole chunk (the
    Diffusion U-Net convolves over time) independent of whatever a caller put in the padded slots.

    Args:
        action: (B, T, A); valid: (B, T) bool.
    Returns:
        (B, T, A), equal to ``action`` wherever ``valid``.
    """
    if bool(valid.all()):
        return action
    b, t = valid.shape
    steps = torch.arange(t, device=action.device).expand(b, t)  # (B, T)
    # Forward fill: index of the last valid step at or before t (-1 if none yet).
    last = torch.where(valid, steps, torch.full_like(steps, -1)).cummax(dim=1).values  # (B, T)
    # Leading pads (before the first valid step) take the first valid step.
    first = torch.where(valid, steps, torch.full_like(steps, t)).min(dim=1, keepdim=True).values  # (B, 1)
    src = torch.where(last >= 0, last, first.expand(b, t)).clamp_max(t - 1)  # (B, T)
    return torch.gather(action, 1, src.unsqueeze(-1).expand_as(action))


class PolicyAdapter(nn.Module):
    """Base adapter: ``compute_loss(batch) -> (B,)`` plus lerobot's inference API and export.

    Subclasses implement :meth:`compute_loss`. All batches are normalised (lerobot preprocessor output).
    """

    policy: PreTrainedPolicy  # the wrapped lerobot policy (its submodules: ``model``, ``diffusion``, ...)

    def __init__(self, policy: nn.Module):
        super().__init__()
        self.policy = policy

    # ----- training -------------------------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, Tensor]) -> Tensor:  # pragma: no cover - abstract
        """Per-sample training loss, shape (B,), padding excluded per sample."""
        raise NotImplementedError

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.compute_loss(batch)

    # ----- properties shared by every lerobot policy ------------------------------------------------------
    @property
    def config(self) -> Any:
        """The wrapped lerobot ``PreTrainedConfig``."""
        return self.policy.config

    @property
    def chunk_size(self) -> int:
        """Number of actions predicted per call (ACT ``chunk_size``, Diffusion ``horizon``)."""
        cfg = self.config
        for name in ("chunk_size", "horizon"):
            if hasattr(cfg, name):
                return int(getattr(cfg, name))
        raise AttributeError(f"{type(cfg).__name__} has neither chunk_size nor horizon")

    @property
    def n_action_steps(self) -> int:
        return int(self.config.n_action_steps)

    def delta_indices(self) -> dict[str, list[int]]:
        """Frame offsets the dataset must return per key (lerobot's ``*_delta_indices``); keys absent = current frame."""
        out: dict[str, list[int]] = {}
        obs = self.config.observation_delta_indices
        if obs is not None:
            for key in self.config.input_features:
                out[key] = list(obs)
        act = self.config.action_delta_indices
        if act is not None:
            out[ACTION] = list(act)
        return out

    def delta_timestamps(self, fps: float) -> dict[str, list[float]]:
        """``delta_timestamps`` for ``LeRobotDataset`` at ``fps`` (offsets are multiples of 1/fps)."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        return {k: [i / fps for i in v] for k, v in self.delta_indices().items()}

    # ----- inference ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear the action / observation queues; call at every environment reset."""
        self.policy.reset()

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor]) -> Tensor:
        """One action (B, A) per call from a normalised single-step observation, via lerobot's action queue."""
        return self.policy.select_action(batch)

    @torch.no_grad()
    def predict_action(self, batch: dict[str, Tensor]) -> Tensor:
        """The executed part of a predicted chunk, (B, n_action_steps, A), from a normalised observation batch."""
        return self.policy.predict_action_chunk(batch)[:, : self.n_action_steps]

    # ----- export ---------------------------------------------------------------------------------------------
    def save_pretrained(
        self, directory: str | Path, preprocessor: Any = None, postprocessor: Any = None
    ) -> Path:
        """Write lerobot's own layout (``config.json``, ``model.safetensors``, ``policy_preprocessor.json``,
        ``policy_postprocessor.json`` + state files), loadable by ``<Policy>.from_pretrained`` and lerobot's tools.

        The directory appears atomically: everything is written to a temp directory beside it, then renamed.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            self.policy.save_pretrained(tmp)
            if preprocessor is not None:
                preprocessor.save_pretrained(tmp)
            if postprocessor is not None:
                postprocessor.save_pretrained(tmp)
            old = None
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old.{os.getpid()}")
                os.replace(directory, old)
            os.replace(tmp, directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
            raise
        logger.info("saved %s policy to %s", self.config.type, directory)
        return directory
