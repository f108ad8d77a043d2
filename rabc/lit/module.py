"""One LightningModule for any policy adapter and any weighting scheme.

The policy adapter returns per-sample losses (B,); the module reduces them with the one reducer
``rabc.weighting.weighted_mean``. Under DDP the denominator is the **global** Σw (all-reduced), and each rank's
loss is scaled by the world size, so DDP's gradient averaging yields exactly Σ_all w·ℓ / Σ_all w.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch

from rabc.policies import EMA, PolicyAdapter
from rabc.types import SAMPLE_WEIGHT
from rabc.weighting.reduce import weight_stats, weighted_mean

log = logging.getLogger(__name__)


def linear_warmup(optimizer: torch.optim.Optimizer, warmup_steps: int) -> torch.optim.lr_scheduler.LinearLR:
    """Learning rate ``lr · min(1, (step + 1) / warmup_steps)``: torch's ``LinearLR`` from ``lr / warmup_steps``
    to ``lr`` over the first ``warmup_steps`` steps (configs/scheduler/linear_warmup.yaml)."""
    if warmup_steps < 1:
        raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
    return torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=1.0 / warmup_steps, end_factor=1.0, total_iters=max(1, warmup_steps - 1)
    )


class WeightedBCModule(pl.LightningModule):
    """Weighted behaviour cloning.

    Args:
        policy: adapter with ``compute_loss(batch) -> (B,)`` (an ``nn.Module``).
        preprocessor: lerobot policy preprocessor (normalisation); called on every batch; ``None`` = identity.
        optimizer: ``params -> torch.optim.Optimizer`` (a Hydra ``_partial_``).
        scheduler: ``optimizer -> LRScheduler`` stepped every step, or None.
        ema_decay: keep an exponential moving average of the policy's weights (``rabc.policies.EMA``, Diffusion
            Policy's warm-up schedule capped at this decay), used for validation and export.
        weight_cap: the scheme's maximum weight, for the "capped fraction" statistic.
        histogram_every: log a weight histogram every this many steps (0 = never).
    """

    skipped_steps: torch.Tensor  # buffers (registered in __init__)
    batches_done: torch.Tensor

    def __init__(
        self,
        policy: PolicyAdapter,
        optimizer: Callable[[Any], torch.optim.Optimizer],
        preprocessor: Callable[[dict], dict] | None = None,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        ema_decay: float | None = None,
        weight_cap: float | None = None,
        histogram_every: int = 100,
    ):
        super().__init__()
        self.policy = policy
        self.preprocessor = preprocessor
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.weight_cap = weight_cap
        self.histogram_every = histogram_every
        self.ema = EMA(policy, max_decay=ema_decay) if ema_decay else None
        # Steps skipped because every weight in the (global) batch was zero; checkpointed with the module.
        self.register_buffer("skipped_steps", torch.zeros((), dtype=torch.long))
        # Training batches seen (optimizer steps + skipped steps); a buffer, so it survives ddp_spawn's hand-back
        # of the trained state to the launching process, where ``trainer.global_step`` stays 0.
        self.register_buffer("batches_done", torch.zeros((), dtype=torch.long))
        self._skip_step = False  # set by training_step when the batch's global Σw is zero

    # --- helpers -------------------------------------------------------------------------------------------
    def _prepare(self, batch: dict) -> tuple[dict, torch.Tensor]:
        if SAMPLE_WEIGHT not in batch:
            raise KeyError(
                f"batch has no {SAMPLE_WEIGHT!r}: use rabc.data.WeightedDataset (uniform weights for BC)"
            )
        batch = dict(batch)
        weights = batch.pop(SAMPLE_WEIGHT).float()
        if self.preprocessor is not None:
            batch = self.preprocessor(batch)
        return batch, weights

    def _global_sum(self, x: torch.Tensor) -> torch.Tensor:
        if self.trainer is not None and self.trainer.world_size > 1:
            return self.trainer.strategy.reduce(x.detach().clone(), reduce_op="sum")
        return x.detach()

    @property
    def eval_policy(self) -> PolicyAdapter:
        """The weights used for validation and export: the EMA if enabled, else the trained policy."""
        return self.ema.averaged if self.ema is not None else self.policy

    # --- Lightning hooks -----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        batch, weights = self._prepare(batch)
        per_sample = self.policy.compute_loss(batch)  # (B,)
        global_w = self._global_sum(weights.sum())
        bs = per_sample.shape[0]
        # Log only on the steps Lightning writes to the logger (its rule: (step + 1) % every == 0) and on the last
        # step (so the run's final metrics exist): each self.log call costs ~0.1 ms, a few % of a small CPU step.
        # log_every_n_steps is set on the Trainer by Lightning's logger connector, not declared on the class
        every = self.trainer.log_every_n_steps if self._trainer is not None else 1  # type: ignore[attr-defined]
        last = self._trainer is not None and 0 < self.trainer.max_steps <= self.global_step + 1
        log_now = last or (self.global_step + 1) % max(1, every) == 0
        if log_now:
            stats = weight_stats(weights, self.weight_cap)
            self.log_dict({f"weights/{k}": v for k, v in stats.items()}, batch_size=bs)
            self.log("train/loss_unweighted", per_sample.detach().mean(), prog_bar=True, batch_size=bs)
        self._skip_step = bool(global_w <= 0)
        if self._skip_step:
            # Σw is global, so every rank agrees. Lightning forbids returning None under DDP, so return a zero
            # loss over every parameter (DDP's backward hook fires on all ranks alike) and drop the gradients in
            # on_before_optimizer_step: torch optimizers leave a parameter whose .grad is None untouched (no
            # momentum, Adam state or weight-decay change).
            self.skipped_steps += 1
            self.log("train/skipped_steps", self.skipped_steps.float(), batch_size=bs)
            log.warning(
                "step %d: every weight in the batch is zero; optimizer step skipped", self.global_step
            )
            return per_sample.sum() * 0.0
        world = self.trainer.world_size if self.trainer is not None else 1
        loss = weighted_mean(per_sample, weights, global_w / world)
        if log_now:
            self.log(
                "train/loss",
                loss.detach() / world,
                prog_bar=True,
                batch_size=bs,
                sync_dist=world > 1,
                reduce_fx="sum",
            )
        if self.histogram_every and self.global_step % self.histogram_every == 0:
            self._log_histogram(weights)
        return loss

    def on_fit_start(self) -> None:
        if self.ema is not None:  # not a submodule (its parameters stay out of the optimizer): move it here
            self.ema.model.to(self.device)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self._skip_step:
            optimizer.zero_grad(set_to_none=True)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_done += 1
        if self.ema is not None and not self._skip_step:  # no update on a skipped (all-zero-weight) step
            self.ema.update(self.policy)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None:
            checkpoint["ema"] = self.ema.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.ema is not None:
            if "ema" not in checkpoint:
                raise KeyError("checkpoint has no EMA state but ema_decay is set")
            self.ema.load_state_dict(checkpoint["ema"])

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        # Unweighted, so comparable across weighting schemes. The adapter stays in training mode (ACT's VAE
        # needs it for its KL term); with no gradient this only means dropout is active.
        batch, _ = self._prepare(batch)
        policy = self.eval_policy
        policy.train()
        per_sample = policy.compute_loss(batch)
        loss = per_sample.mean()
        self.log("val/loss_unweighted", loss, prog_bar=True, batch_size=per_sample.shape[0], sync_dist=True)
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.policy.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "step"},
        }

    def _log_histogram(self, weights: torch.Tensor) -> None:
        logger = self.logger
        experiment = getattr(logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_histogram"):
            experiment.add_histogram("weights/batch", weights.detach().cpu(), self.global_step)
