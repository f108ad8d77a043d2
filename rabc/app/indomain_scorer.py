"""The in-domain tiny TOPReward scorer: full training of a tiny random Qwen3-VL on generated sim videos (standing in
for pretraining), then LoRA adaptation, each stage evaluated before/after (``python scripts/make_indomain_scorer.py``,
configs/indomain_scorer.yaml)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rabc.app import cli
from rabc.app.finetune_scorer import FinetuneResult, finetune_stage, node

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndomainScorerResult(FinetuneResult):
    """The scorer :func:`run` built: ``TopRewardScorer(str(pretrained), adapter=str(adapter))``, and its report."""

    pretrained: Path

    def summary(self) -> str:
        return f"{super().summary()}\nscorer: TopRewardScorer({str(self.pretrained)!r}, adapter={str(self.adapter)!r})"


def run(cfg: DictConfig) -> IndomainScorerResult:
    """Dataset (generated under ``<out>/dataset`` unless ``dataset.root``), ``<out>/base`` (random init), the
    ``full`` stage into ``<out>/pretrained``, the ``lora`` stage into ``<out>/adapter``, the report."""
    from rabc.data import dataset_fingerprint, generate_dataset, split_episodes
    from rabc.data.generate import GenerateConfig
    from rabc.io import atomic_write, provenance_stamp
    from rabc.reward.finetune_run import StageConfig, random_reference, write_report
    from rabc.reward.tiny import make_tiny_vlm
    from rabc.reward.topreward import TopRewardScorer

    cli.runtime_defaults()
    out = Path(str(cfg.out)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "config.yaml", "w") as fh:
        fh.write(OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.dataset.root is None:
        root = out / "dataset"
        generate_dataset(
            GenerateConfig(root=str(root), overwrite=True, **node(cfg.dataset.generate)), show_progress=True
        )
    else:
        root = Path(str(cfg.dataset.root)).resolve()
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    base = make_tiny_vlm(out / "base", size=cfg.model.size, seed=cfg.model.seed)
    scorer = TopRewardScorer(str(base), num_anchors=cfg.scorer.num_anchors, max_frames=cfg.scorer.max_frames)
    lightning: dict[str, Any] = {
        "trainer": node(cfg.get("trainer")),
        "logger": node(cfg.get("logger")),
        "show_progress": True,
    }
    full = StageConfig(**node(cfg.full))
    lora = StageConfig(**node(cfg.lora))
    stages = {"full": finetune_stage(scorer, root, splits, full, out / "pretrained", run_dir=out / "train" / "full",
                                     **lightning)}  # fmt: skip
    stages["lora"] = finetune_stage(
        scorer, root, splits, lora, out / "adapter", evaluate_before=False, run_dir=out / "train" / "lora",
        **lightning,
    )  # fmt: skip
    stages["lora"]["before"] = stages["full"]["after"]
    report = {
        "dataset": str(root), "dataset_fingerprint": dataset_fingerprint(root), "splits": splits,
        "random_reference": random_reference(root, splits, cfg.scorer.num_anchors),
        "model_size": cfg.model.size, **provenance_stamp(), "stages": stages,
        "adapter_hash": stages["lora"]["adapter_hash"],
    }  # fmt: skip
    js, md = write_report(out, report, "In-domain tiny TOPReward scorer")
    log.info(
        "scorer: TopRewardScorer(%r, adapter=%r); report: %s",
        str(out / "pretrained"),
        str(out / "adapter"),
        md,
    )
    return IndomainScorerResult(out / "adapter", report["adapter_hash"], js, md, report, out / "pretrained")
