"""Exponential moving average of policy weights (Diffusion Policy evaluates the EMA model; lerobot has none).

A plain implementation rather than ``torch.optim.swa_utils.AveragedModel``: Diffusion Policy's EMA uses a
warm-up decay that depends on the step count, ``decay = 1 − (1 + step/inv_gamma)^(−power)`` clipped to
[min_decay, max_decay] (Chi et al. 2023, code ``EMAModel``; power 0.75 reaches 0.999 near 10 k steps), and it must
*copy* buffers (BatchNorm running statistics, integer counters) rather than average them. ``AveragedModel`` either
averages buffers (breaking integer buffers) or leaves them stale, and its ``multi_avg_fn`` sees no step count
without wrapping. The update is one fused ``torch._foreach_lerp_`` over all parameters.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


class EMA:
    """EMA copy of ``model``: call :meth:`update` after every optimiser step, evaluate ``ema.averaged``.

    ``ema.averaged`` is a deep copy of the module passed in (an adapter stays an adapter, with ``select_action``
    and ``save_pretrained``), in eval mode with gradients off. Not an ``nn.Module`` itself, so it never leaks its
    parameters into an optimiser; checkpoint it through :meth:`state_dict` / :meth:`load_state_dict`.
    """

    def __init__(
        self,
        model: nn.Module,
        power: float = 0.75,
        inv_gamma: float = 1.0,
        min_decay: float = 0.0,
        max_decay: float = 0.9999,
        update_after_step: int = 0,
    ):
        if not 0.0 <= min_decay <= max_decay < 1.0:
            raise ValueError(f"need 0 <= min_decay <= max_decay < 1, got {min_decay}, {max_decay}")
        if power <= 0 or inv_gamma <= 0:
            raise ValueError(f"power and inv_gamma must be positive, got {power}, {inv_gamma}")
        self.power, self.inv_gamma = power, inv_gamma
        self.min_decay, self.max_decay = min_decay, max_decay
        self.update_after_step = update_after_step
        self.optimization_step = 0
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)

    def decay(self, optimization_step: int) -> float:
        """Decay used at the given step (0 during the first ``update_after_step + 1`` steps: plain copy)."""
        step = max(0, optimization_step - self.update_after_step - 1)
        if step <= 0:
            return 0.0
        value = 1.0 - (1.0 + step / self.inv_gamma) ** -self.power
        return max(self.min_decay, min(value, self.max_decay))

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """ema ← decay·ema + (1 − decay)·θ for trainable float parameters; everything else is copied.

        Returns the decay used.
        """
        decay = self.decay(self.optimization_step)
        ema_params = dict(self.averaged.named_parameters())
        avg_dst, avg_src = [], []
        for name, param in model.named_parameters():
            if name not in ema_params:
                raise KeyError(f"EMA: parameter {name!r} not in the averaged copy (different architecture?)")
            dst = ema_params[name]
            if param.requires_grad and param.is_floating_point():
                avg_dst.append(dst)
                avg_src.append(param.detach())
            else:
                dst.copy_(param)
        if avg_dst:
            torch._foreach_lerp_(avg_dst, avg_src, 1.0 - decay)
        ema_buffers = dict(self.averaged.named_buffers())
        for name, buf in model.named_buffers():
            if name in ema_buffers:
                ema_buffers[name].copy_(buf)
        self.optimization_step += 1
        return decay

    def state_dict(self) -> dict[str, Any]:
        return {"averaged": self.averaged.state_dict(), "optimization_step": self.optimization_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self.optimization_step = int(state["optimization_step"])
