"""Scorer fine-tuning: fit a TOPReward scorer so that log p(" True") tracks progress/success on labelled in-domain
episodes, on Lightning (rabc.lit.scorer_module: the policies' Trainer set-up, checkpoints, resume, TensorBoard).

:func:`train_scorer` fits a model on encoded prefix groups (rabc.reward.finetune: draws and objectives);
:func:`finetune_stage` is one stage (``mode="lora"`` on a peft wrapper, or ``mode="full"`` on every weight) with
the scorer evaluated before and after on the validation episodes of the training tasks and on the held-out tasks,
saved as a peft adapter or a full ``save_pretrained`` model directory; :func:`run` is
``python scripts/finetune_scorer.py`` (configs/finetune_scorer.yaml).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import CosineAnnealingLR

from rabc.app import cli
from rabc.lit.scorer_module import LossModule, fit, make_trainer
from rabc.reward.finetune import GroupLoss, PrefixGroup, build_groups, param_groups
from rabc.reward.finetune_run import LR_SCHEDULES, StageConfig, evaluate_splits, summary
from rabc.reward.lora import add_lora, save_adapter
from rabc.reward.topreward import TopRewardScorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    losses: list[float]  # per optimised step
    steps: int  # optimised steps
    skipped_steps: int  # draws without a loss term
    seconds: float


@dataclass(frozen=True)
class FinetuneResult:
    """What :func:`run` wrote: the adapter directory (peft layout), its hash and the before/after report."""

    adapter: Path
    adapter_hash: str
    report_json: Path
    report_md: Path
    report: dict[str, Any]

    def summary(self) -> str:
        return "\n".join(
            [
                self.report_md.read_text(),
                f"adapter: {self.adapter} (sha256 {self.adapter_hash})",
                f"report:  {self.report_json}",
            ]
        )


def train_scorer(
    model: torch.nn.Module,
    groups: Sequence[PrefixGroup],
    answer_id: int,
    *,
    objective: str = "regression+ranking",
    steps: int = 100,
    groups_per_step: int = 4,
    anchors_per_group: int | None = 6,
    lr: float = 1e-3,
    lr_schedule: str = "constant",
    weight_decay: float = 0.0,
    vision_lr_mult: float = 1.0,
    seed: int = 0,
    early_fraction: float = 0.34,
    regression_floor: float = 0.05,
    contrast_margin: float = 1.0,
    contrast_min_gap: float = 0.2,
    show_progress: bool = False,
    run_dir: str | Path | None = None,
    trainer: Mapping[str, Any] | None = None,
    logger: Mapping[str, Any] | None = None,
    ckpt_path: str | Path | None = None,
) -> TrainResult:
    """AdamW (:func:`rabc.reward.finetune.param_groups`) on the trainable parameters of ``model`` for ``steps``
    draws of ``groups_per_step`` groups × up to ``anchors_per_group`` anchors (:class:`GroupLoss`), one forward
    per prefix; ``lr_schedule="cosine"`` decays the learning rate to 0 over the ``steps`` (torch's
    CosineAnnealingLR, stepped every step). ``run_dir`` (with ``trainer`` / ``logger`` config nodes) adds
    checkpoints and TensorBoard there; ``ckpt_path`` resumes."""
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    loss = GroupLoss(
        groups, answer_id, objective=objective, groups_per_step=groups_per_step, early_fraction=early_fraction,
        regression_floor=regression_floor, contrast_margin=contrast_margin, contrast_min_gap=contrast_min_gap,
    )  # fmt: skip
    param_groups(model, lr, vision_lr_mult)  # fails fast: no trainable parameters, bad multiplier
    module = LossModule(
        model,
        loss,
        lambda m: torch.optim.AdamW(param_groups(m, lr, vision_lr_mult), lr=lr, weight_decay=weight_decay),
        lambda start: loss.draws(steps=steps, anchors_per_group=anchors_per_group, seed=seed, start=start),
        scheduler=None if lr_schedule == "constant" else lambda opt: CosineAnnealingLR(opt, T_max=steps),
    )
    pl_trainer = make_trainer(
        run_dir, max_steps=steps, trainer=trainer, logger=logger, enable_progress_bar=show_progress
    )
    t0 = time.perf_counter()
    fit(module, pl_trainer, ckpt_path)
    model.eval()
    return TrainResult(module.losses, len(module.losses), module.skipped_steps, time.perf_counter() - t0)


def finetune_stage(
    scorer: TopRewardScorer,
    root: str | Path,
    splits: dict[str, list[int]],
    stage: StageConfig,
    out_dir: str | Path,
    *,
    evaluate_before: bool = True,
    show_progress: bool = False,
    run_dir: str | Path | None = None,
    trainer: Mapping[str, Any] | None = None,
    logger: Mapping[str, Any] | None = None,
    ckpt_path: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``scorer.adapter.model`` in place on ``splits["train"]``; evaluate before/after; save to ``out_dir``.

    LoRA: the adapter is saved with ``save_pretrained`` under ``out_dir`` (its hash in the result) and left
    unmerged in ``scorer.adapter.model`` (the base model with LoRA layers injected). Full: the whole model and its
    processor are saved to ``out_dir`` in the ``from_pretrained`` layout. ``run_dir``: checkpoints + TensorBoard.
    """
    out = Path(out_dir)
    result: dict[str, Any] = {"stage": asdict(stage), "train_episodes": list(map(int, splits["train"]))}
    if evaluate_before:
        result["before"] = evaluate_splits(scorer, root, splits, show_progress)
    groups = build_groups(
        scorer, root, splits["train"], static=stage.static_negatives, reverse=stage.reverse_negatives,
        show_progress=show_progress,
    )  # fmt: skip
    model = scorer.adapter.model
    peft_model = None
    if stage.mode == "lora":
        peft_model = add_lora(
            model, r=stage.lora_r, alpha=stage.lora_alpha, dropout=stage.lora_dropout,
            vision=stage.lora_vision, seed=stage.seed,
        )  # fmt: skip
        model = peft_model
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    trained = train_scorer(
        model, groups, scorer.answer_ids[0], objective=stage.objective, steps=stage.steps,
        groups_per_step=stage.groups_per_step, anchors_per_group=stage.anchors_per_group, lr=stage.lr,
        lr_schedule=stage.lr_schedule,
        weight_decay=stage.weight_decay, vision_lr_mult=stage.vision_lr_mult, seed=stage.seed,
        early_fraction=stage.early_fraction, regression_floor=stage.regression_floor,
        contrast_margin=stage.contrast_margin, contrast_min_gap=stage.contrast_min_gap,
        show_progress=show_progress, run_dir=run_dir, trainer=trainer, logger=logger, ckpt_path=ckpt_path,
    )  # fmt: skip
    for p in scorer.adapter.model.parameters():
        p.requires_grad_(False)
    loss = np.asarray(trained.losses) if trained.losses else np.full(1, np.nan)
    head = max(1, len(loss) // 10)
    result["train"] = {
        "seconds": trained.seconds, "steps": trained.steps, "skipped_steps": trained.skipped_steps,
        "prefix_groups": len(groups), "loss_first": float(loss[:head].mean()), "loss_last": float(loss[-head:].mean()),
        "run_dir": None if run_dir is None else str(run_dir),
    }  # fmt: skip
    if peft_model is not None:
        scorer.adapter.model = peft_model.get_base_model().eval()
        result["adapter_dir"] = str(out)
        result["adapter_hash"] = save_adapter(peft_model, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        scorer.adapter.model.save_pretrained(out)
        scorer.adapter.processor.save_pretrained(out)
        result["model_dir"] = str(out)
    result["after"] = evaluate_splits(scorer, root, splits, show_progress)
    log.info("stage %s done in %.0f s: %s", stage.mode, trained.seconds, summary(result))
    return result


def node(cfg: Any) -> dict[str, Any]:
    """A config mapping node as a plain resolved dict ({} for None)."""
    return {} if cfg is None else cli.to_container(cfg)


def run(cfg: DictConfig) -> FinetuneResult:
    """LoRA-adapt ``cfg.model`` on the training-task episodes of ``cfg.dataset.root``; write the adapter, the
    before/after report and the config under ``cfg.out`` (checkpoints and TensorBoard under ``<out>/train``)."""
    from rabc.data import dataset_fingerprint, split_episodes
    from rabc.io import atomic_write, provenance_stamp
    from rabc.reward.finetune_run import random_reference, write_report

    cli.runtime_defaults()
    out, root = Path(str(cfg.out)).resolve(), Path(str(cfg.dataset.root)).resolve()
    model = str(Path(str(cfg.model)).resolve()) if Path(str(cfg.model)).is_dir() else str(cfg.model)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "config.yaml", "w") as fh:
        fh.write(OmegaConf.to_yaml(cfg, resolve=True))
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    if not splits["train"]:
        raise ValueError(f"{root}: no training-task episodes to fine-tune on")
    scorer = TopRewardScorer(model, **node(cfg.scorer))
    stage = StageConfig(**node(cfg.stage))
    result = finetune_stage(
        scorer, root, splits, stage, out, show_progress=True, run_dir=out / "train", trainer=node(cfg.trainer),
        logger=node(cfg.logger), ckpt_path=cfg.ckpt_path,
    )  # fmt: skip
    report = {
        "model": model, "base_adapter_hash": scorer.adapter_hash, "dataset": str(root),
        "dataset_fingerprint": dataset_fingerprint(root), "splits": splits, **provenance_stamp(),
        "random_reference": random_reference(root, splits, scorer.num_anchors),
        "stages": {"lora": result}, "adapter_hash": result["adapter_hash"],
    }  # fmt: skip
    js, md = write_report(out, report, f"LoRA fine-tuning of {model} ({stage.objective})")
    log.info("adapter: %s (sha256 %s); report: %s", out, result["adapter_hash"], md)
    return FinetuneResult(out, result["adapter_hash"], js, md, report)
