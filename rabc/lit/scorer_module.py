"""Lightning training of any ``nn.Module`` under a loss callable: the reward scorer's fine-tune runs on the same
Trainer set-up as the policies (checkpoints with resume, TensorBoard, progress bar) without rabc.lit knowing what
a scorer is (rabc.app.finetune_scorer supplies the model, the loss and the data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

log = logging.getLogger(__name__)

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor | None]


class LossModule(pl.LightningModule):
    """Minimise ``loss(model, batch)`` over the batches of a DataLoader.

    Args:
        model: the module to train; only its parameters with ``requires_grad`` are optimised.
        loss: ``(model, batch) -> scalar loss``, or None for a batch without a loss term (no optimizer step).
        optimizer: ``model -> torch.optim.Optimizer`` (parameter groups are the caller's choice).
        scheduler: ``optimizer -> LRScheduler`` stepped every step, or None (constant learning rate).
        data: ``first_step -> iterable of batches``, one batch per optimizer step from global step ``first_step`` on
            (0, or the step a resumed checkpoint reached: the draws continue where the interrupted run stopped).
        trainable_checkpoint: checkpoints hold only the trainable parameters (a LoRA adapter's matrices, not the
            frozen multi-GB base model); the frozen rest is rebuilt by the caller before a resume.

    ``losses`` records every optimised step's loss (also logged as ``train/loss``); ``skipped_steps`` counts the
    batches without a loss term: such a step counts (one batch, one global step) but changes nothing, its
    gradients are dropped before the optimizer step (a torch optimizer leaves a parameter without ``.grad`` alone).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
        data: Callable[[int], Iterable[Any]],
        *,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        trainable_checkpoint: bool = True,
    ):
        super().__init__()
        self.model = model
        self.loss_fn = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.data = data
        self.trainable_checkpoint = trainable_checkpoint
        self.strict_loading = not trainable_checkpoint
        self.losses: list[float] = []
        self.skipped_steps = 0
        self._skip = False

    def train_dataloader(self) -> torch.utils.data.DataLoader[Any]:
        # built after a checkpoint is restored, so global_step is the resumed one
        return torch.utils.data.DataLoader(self.data(int(self.trainer.global_step)), batch_size=None)  # type: ignore[arg-type]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.loss_fn(self.model, batch)
        self._skip = loss is None
        if loss is None:
            self.skipped_steps += 1
            return torch.zeros((), device=self.device, requires_grad=True)
        self.losses.append(float(loss.detach()))
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=1)
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self._skip:
            optimizer.zero_grad(set_to_none=True)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.model)
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "step"},
        }

    def on_train_start(self) -> None:
        self.model.train()  # Lightning keeps each submodule's mode; a from_pretrained model starts in eval mode

    def on_train_end(self) -> None:
        self.model.eval()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.trainable_checkpoint:
            keep = {f"model.{n}" for n, p in self.model.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}


def make_trainer(
    run_dir: str | Path | None,
    *,
    max_steps: int,
    trainer: Mapping[str, Any] | None = None,
    logger: Mapping[str, Any] | None = None,
    checkpoint_every_n_steps: int | None = None,
    **overrides: Any,
) -> pl.Trainer:
    """The Trainer of a training run, as for the policies: ``trainer`` is a configs/trainer/ node (``_target_``
    pytorch_lightning.Trainer), ``logger`` a configs/logger/ node (TensorBoard under ``run_dir``), checkpoints in
    ``<run_dir>/checkpoints`` (``last.ckpt``, also every ``checkpoint_every_n_steps``). One pass over the training
    data per epoch, ``max_steps`` steps in all. ``run_dir=None`` (in-memory fits): no checkpoints, no logger.
    ``overrides`` replace trainer arguments."""
    callbacks: list[pl.Callback] = []
    kwargs: dict[str, Any] = {"max_steps": max_steps, "max_epochs": -1, "limit_val_batches": 0, **overrides}
    if run_dir is None:
        kwargs.update(logger=False, enable_checkpointing=False, default_root_dir=None)
    else:
        callbacks.append(
            pl.callbacks.ModelCheckpoint(
                dirpath=Path(run_dir) / "checkpoints",
                save_last=True,
                save_top_k=0,
                every_n_train_steps=checkpoint_every_n_steps,
            )
        )
        has_logger = bool(logger) and "_target_" in (logger or {})
        kwargs["logger"] = instantiate(dict(logger or {}), save_dir=str(run_dir)) if has_logger else False
        kwargs["default_root_dir"] = str(run_dir)
    if trainer and "_target_" in trainer:
        return instantiate(dict(trainer), callbacks=callbacks, **kwargs)
    kwargs.setdefault("accelerator", "cpu")
    kwargs.setdefault("devices", 1)
    kwargs.setdefault("enable_model_summary", False)
    kwargs.setdefault("enable_progress_bar", False)
    return pl.Trainer(callbacks=callbacks, **kwargs)


def fit(module: LossModule, trainer: pl.Trainer, ckpt_path: str | Path | None = None) -> LossModule:
    """``trainer.fit(module)``; ``ckpt_path`` resumes (``"last"`` = ``<default_root_dir>/checkpoints/last.ckpt``).
    Checkpoints are loaded weights-only."""
    if ckpt_path == "last":
        ckpt_path = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
    trainer.fit(module, ckpt_path=ckpt_path, weights_only=True)
    return module
