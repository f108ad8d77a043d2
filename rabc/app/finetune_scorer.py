"""``finetune_scorer``: LoRA-adapt a TOPReward scorer so that log p(" True") tracks progress / success on labelled
in-domain episodes. Writes ``<out>/adapter_model.safetensors`` + ``adapter_config.json`` (peft), ``report.{json,md}``
and ``config.yaml``; score with ``TopRewardScorer(model, adapter=out)`` (``scorer.adapter=<out>`` in configs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults


@dataclass(frozen=True)
class FinetuneResult:
    out: Path  # the adapter directory
    adapter_hash: str
    report_json: Path
    report_md: Path
    report: dict[str, Any]

    def summary(self) -> str:
        return "\n".join(
            [
                self.report_md.read_text(),
                f"adapter: {self.out} (sha256 {self.adapter_hash})",
                f"report:  {self.report_json}",
            ]
        )


def run(cfg: DictConfig) -> FinetuneResult:
    runtime_defaults()
    from rabc.data import dataset_fingerprint, split_episodes
    from rabc.io import git_sha
    from rabc.reward.finetune_run import StageConfig, finetune_stage, random_reference, write_report
    from rabc.reward.topreward import TopRewardScorer

    out, root = Path(cfg.out).absolute(), Path(cfg.dataset.root).absolute()
    model = os.path.abspath(cfg.model) if os.path.isdir(cfg.model) else cfg.model  # a directory or a hub id
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    if not splits["train"]:
        raise ValueError(f"{root}: no training-task episodes to fine-tune on")
    scorer_kw = OmegaConf.to_container(cfg.scorer, resolve=True)
    assert isinstance(scorer_kw, dict)
    scorer = TopRewardScorer(model, **{str(k): v for k, v in scorer_kw.items()})
    stage_kw = OmegaConf.to_container(cfg.stage, resolve=True)
    assert isinstance(stage_kw, dict)
    stage = StageConfig(**{str(k): v for k, v in stage_kw.items()})
    result = finetune_stage(scorer, root, splits, stage, out, show_progress=True)
    report = {
        "model": str(model), "base_adapter_hash": scorer.adapter_hash, "dataset": str(root),
        "dataset_fingerprint": dataset_fingerprint(root), "splits": splits, "git_sha": git_sha(),
        "random_reference": random_reference(root, splits, scorer.num_anchors),
        "stages": {"lora": result}, "adapter_hash": result["adapter_hash"],
    }  # fmt: skip
    js, md = write_report(out, report, f"LoRA fine-tuning of {model} ({stage.objective})")
    return FinetuneResult(out, str(result["adapter_hash"]), Path(js), Path(md), report)
