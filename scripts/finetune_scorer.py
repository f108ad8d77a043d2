"""LoRA-adapt a TOPReward scorer so that log p(" True") tracks progress/success on labelled in-domain episodes.

python scripts/finetune_scorer.py model=outputs/tiny_vlm dataset.root=data/metaworld_mixed out=outputs/lora
python scripts/finetune_scorer.py ... objective=bce stage.steps=500 stage.lora_vision=true

Writes <out>/adapter_model.safetensors + adapter_config.json (peft save_pretrained), <out>/report.{json,md} and
<out>/config.yaml. Score with ``TopRewardScorer(model, adapter=out)`` (``scorer.adapter=<out>`` in configs).
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

log = logging.getLogger("finetune_scorer")


@hydra.main(config_path="../configs", config_name="finetune_scorer", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from pathlib import Path

    from rabc.data import dataset_fingerprint, split_episodes
    from rabc.io import git_sha
    from rabc.reward.finetune_run import StageConfig, finetune_stage, random_reference, write_report
    from rabc.reward.topreward import TopRewardScorer

    out = Path(hydra.utils.to_absolute_path(cfg.out))
    root = Path(hydra.utils.to_absolute_path(cfg.dataset.root))
    model = cfg.model if not os.path.isdir(hydra.utils.to_absolute_path(cfg.model)) else (
        hydra.utils.to_absolute_path(cfg.model)
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    if not splits["train"]:
        raise ValueError(f"{root}: no training-task episodes to fine-tune on")
    scorer_kw = dict(OmegaConf.to_container(cfg.scorer, resolve=True))
    scorer = TopRewardScorer(model, **scorer_kw)
    stage = StageConfig(**OmegaConf.to_container(cfg.stage, resolve=True))
    result = finetune_stage(scorer, root, splits, stage, out, show_progress=True)
    report = {
        "model": str(model), "base_adapter_hash": scorer.adapter_hash, "dataset": str(root),
        "dataset_fingerprint": dataset_fingerprint(root), "splits": splits, "git_sha": git_sha(),
        "random_reference": random_reference(root, splits, scorer.num_anchors),
        "stages": {"lora": result}, "adapter_hash": result["adapter_hash"],
    }  # fmt: skip
    js, md = write_report(out, report, f"LoRA fine-tuning of {model} ({stage.objective})")
    print(md.read_text())
    print(f"adapter: {out} (sha256 {result['adapter_hash']})")
    print(f"report:  {js}")


if __name__ == "__main__":
    main()
