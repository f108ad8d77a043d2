"""``make_indomain_scorer``: full training of the tiny Qwen3-VL on generated sim videos, then LoRA.

Writes ``<out>/base`` (random init), ``<out>/pretrained`` (fully trained, from_pretrained layout), ``<out>/adapter``
(peft LoRA adapter), ``<out>/report.{json,md}`` (VOC / success AUC / static-frame VOC before and after each stage
on held-out episodes of training tasks and on held-out tasks) and ``<out>/config.yaml``. Score with
``TopRewardScorer("<out>/pretrained", adapter="<out>/adapter")`` (configs/scorer/topreward_indomain.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults


@dataclass(frozen=True)
class IndomainScorerResult:
    pretrained: Path
    adapter: Path
    report_json: Path
    report_md: Path
    report: dict[str, Any]

    def summary(self) -> str:
        return "\n".join(
            [
                self.report_md.read_text(),
                f"scorer: TopRewardScorer({str(self.pretrained)!r}, adapter={str(self.adapter)!r})",
                f"report: {self.report_json}",
            ]
        )


def run(cfg: DictConfig) -> IndomainScorerResult:
    runtime_defaults()
    from rabc.data import dataset_fingerprint, generate_dataset, split_episodes
    from rabc.data.generate import GenerateConfig
    from rabc.io import git_sha
    from rabc.reward.finetune_run import StageConfig, finetune_stage, random_reference, write_report
    from rabc.reward.tiny import make_tiny_vlm
    from rabc.reward.topreward import TopRewardScorer

    def kwargs(node: Any) -> dict[str, Any]:
        d = OmegaConf.to_container(node, resolve=True)
        assert isinstance(d, dict)
        return {str(k): v for k, v in d.items()}

    out = Path(cfg.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.dataset.root is None:
        root = out / "dataset"
        gen = GenerateConfig(root=str(root), overwrite=True, **kwargs(cfg.dataset.generate))
        generate_dataset(gen, show_progress=True)
    else:
        root = Path(cfg.dataset.root).absolute()
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    base = make_tiny_vlm(out / "base", size=cfg.model.size, seed=cfg.model.seed)
    scorer = TopRewardScorer(str(base), num_anchors=cfg.scorer.num_anchors, max_frames=cfg.scorer.max_frames)
    full, lora = StageConfig(**kwargs(cfg.full)), StageConfig(**kwargs(cfg.lora))
    stages = {"full": finetune_stage(scorer, root, splits, full, out / "pretrained", show_progress=True)}
    stages["lora"] = finetune_stage(
        scorer, root, splits, lora, out / "adapter", evaluate_before=False, show_progress=True
    )
    stages["lora"]["before"] = stages["full"]["after"]
    report = {
        "dataset": str(root), "dataset_fingerprint": dataset_fingerprint(root), "splits": splits,
        "random_reference": random_reference(root, splits, cfg.scorer.num_anchors),
        "model_size": cfg.model.size, "git_sha": git_sha(), "stages": stages,
        "adapter_hash": stages["lora"]["adapter_hash"],
    }  # fmt: skip
    js, md = write_report(out, report, "In-domain tiny TOPReward scorer")
    return IndomainScorerResult(out / "pretrained", out / "adapter", Path(js), Path(md), report)
