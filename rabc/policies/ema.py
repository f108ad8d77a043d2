"""Exponential moving average of policy weights (Diffusion Policy evaluates the EMA model; lerobot has none).

The averaging is ``torch.optim.swa_utils.AveragedModel``: it keeps the deep copy, copies buffers (BatchNorm
running statistics, integer counters) instead of averaging them (``use_buffers=False``), and counts updates in its
``n_averaged`` buffer. What it lacks is Diffusion Policy's warm-up decay (Chi et al. 2023, code ``EMAModel``;
diffusers' ``EMAModel`` ``use_ema_warmup``): ``decay = 1 − (1 + step/inv_gamma)^(−power)`` clipped to
[min_decay, max_decay] (power 0.75 reaches 0.999 near 10 k steps). It is supplied here as the ``multi_avg_fn``,
driven by ``n_averaged``; the update itself is ``torch._foreach_lerp_``, as ``get_ema_multi_avg_fn`` does.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import torch
from torch import nn
from torch.optim.swa_utils import PARAM_LIST, AveragedModel

logger = logging.getLogger(__name__)


class EMA[M: nn.Module]:
    """EMA copy of ``model``: call :meth:`update` after every optimiser step, evaluate ``ema.averaged``.

    ``ema.averaged`` is the averaged copy of the module passed in (an adapter stays an adapter, with
    ``select_action`` and ``save_pretrained``), in eval mode with gradients off. Not an ``nn.Module`` itself, so it
    never leaks its parameters into an optimiser or a DDP wrapper; checkpoint it through :meth:`state_dict` /
    :meth:`load_state_dict`. Every floating-point parameter is averaged (a frozen one stays constant, so its average
    is itself); buffers are copied.
    """

    def __init__(
        self,
        model: M,
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
        bad = [n for n, p in model.named_parameters() if not p.is_floating_point()]
        if bad:
            raise ValueError(f"EMA averages floating-point parameters only; not: {bad[:5]}")
        self.power, self.inv_gamma = power, inv_gamma
        self.min_decay, self.max_decay = min_decay, max_decay
        self.update_after_step = update_after_step
        self.model = AveragedModel(model, multi_avg_fn=self._average, use_buffers=False)
        self.model.eval().requires_grad_(False)

    @property
    def averaged(self) -> M:
        """The averaged copy of the model (same class as the model passed in)."""
        return cast(M, self.model.module)  # AveragedModel's deep copy of the model

    @property
    def optimization_step(self) -> int:
        """Updates so far."""
        return int(self.model.n_averaged)

    def decay(self, optimization_step: int) -> float:
        """Decay used at the given step (0 during the first ``update_after_step + 1`` steps: plain copy)."""
        step = max(0, optimization_step - self.update_after_step - 1)
        if step <= 0:
            return 0.0
        value = 1.0 - (1.0 + step / self.inv_gamma) ** -self.power
        return max(self.min_decay, min(value, self.max_decay))

    def _average(self, ema_params: PARAM_LIST, params: PARAM_LIST, n_averaged: torch.Tensor | int) -> None:
        # AveragedModel calls this from the second update on (the first copies), with the updates done so far
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay(int(n_averaged)))

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """ema ← decay·ema + (1 − decay)·θ for the parameters, buffers copied. Returns the decay used."""
        n_ema = sum(1 for _ in self.averaged.parameters())
        n_model = sum(1 for _ in model.parameters())
        if n_ema != n_model:
            raise ValueError(
                f"EMA: model has {n_model} parameters, the averaged copy {n_ema} (different model?)"
            )
        decay = self.decay(self.optimization_step)
        self.model.update_parameters(model)
        return decay

    def state_dict(self) -> dict[str, Any]:
        return {"averaged": self.averaged.state_dict(), "optimization_step": self.optimization_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self.model.n_averaged.fill_(int(state["optimization_step"]))
