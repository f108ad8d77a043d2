"""Adapter for any lerobot policy whose ``forward(batch, reduction="none")`` already returns per-sample losses
(lerobot 0.6.1: pi0, pi05, smolvla, evo1, molmoact2)."""

from __future__ import annotations

import inspect

from torch import Tensor, nn

from rabc.policies.base import PolicyAdapter


def supports_reduction_none(policy: nn.Module) -> bool:
    """True if ``policy.forward`` takes a ``reduction`` argument (ACT and Diffusion do not)."""
    try:
        params = inspect.signature(policy.forward).parameters
    except (TypeError, ValueError):
        return False
    return "reduction" in params


class ReductionNoneAdapter(PolicyAdapter):
    """Delegates to ``policy.forward(batch, reduction="none")`` and checks that the result is (B,).

    The per-sample definition (padding handling included) is the wrapped policy's own.
    """

    def __init__(self, policy: nn.Module):
        if not supports_reduction_none(policy):
            raise ValueError(
                f"{type(policy).__name__}.forward has no `reduction` argument: it cannot give per-sample losses "
                "through the generic adapter (use ACTAdapter / DiffusionAdapter for ACT and Diffusion)"
            )
        super().__init__(policy)

    def compute_loss(self, batch: dict[str, Tensor]) -> Tensor:
        out = self.policy.forward(batch, reduction="none")
        loss = out[0] if isinstance(out, tuple) else out
        batch_size = _batch_size(batch)
        if loss.ndim != 1 or (batch_size is not None and loss.shape[0] != batch_size):
            raise ValueError(
                f"{type(self.policy).__name__}.forward(reduction='none') returned shape {tuple(loss.shape)}, "
                f"expected ({batch_size},)"
            )
        return loss


def _batch_size(batch: dict) -> int | None:
    for value in batch.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    return None
