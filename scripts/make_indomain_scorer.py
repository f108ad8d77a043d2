"""In-domain tiny TOPReward scorer: full training of the tiny Qwen3-VL on generated sim videos, then LoRA.

python scripts/make_indomain_scorer.py out=outputs/indomain_scorer
python scripts/make_indomain_scorer.py out=... dataset.root=data/metaworld_mixed   # reuse a generated dataset
python scripts/make_indomain_scorer.py out=... model.size=mid full.steps=3000        # larger

Writes <out>/base (random init), <out>/pretrained (fully trained model, from_pretrained layout),
<out>/adapter (peft LoRA adapter), <out>/report.{json,md} (VOC / success AUC / static-frame VOC before and
after each stage on held-out episodes of training tasks and on held-out tasks) and <out>/config.yaml. Score with
`TopRewardScorer("<out>/pretrained", adapter="<out>/adapter")` (configs/scorer/topreward_indomain.yaml).
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

log = logging.getLogger("make_indomain_scorer")


@hydra.main(config_path="../configs/finetune", config_name="indomain", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from pathlib import Path

    from rabc.data import dataset_fingerprint, generate_dataset, split_episodes
    from rabc.data.generate import GenerateConfig
    from rabc.io import git_sha
    from rabc.reward.finetune_run import StageConfig, finetune_stage, random_reference, write_report
    from rabc.reward.tiny import make_tiny_vlm
    from rabc.reward.topreward import TopRewardScorer

    out = Path(hydra.utils.to_absolute_path(cfg.out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.dataset.root is None:
        root = out / "dataset"
        gen = dict(OmegaConf.to_container(cfg.dataset.generate, resolve=True))
        generate_dataset(GenerateConfig(root=str(root), overwrite=True, **gen), show_progress=True)
    else:
        root = Path(hydra.utils.to_absolute_path(cfg.dataset.root))
    splits = split_episodes(root, cfg.dataset.val_fraction, cfg.dataset.split_seed)
    base = make_tiny_vlm(out / "base", size=cfg.model.size, seed=cfg.model.seed)
    scorer = TopRewardScorer(str(base), num_anchors=cfg.scorer.num_anchors, max_frames=cfg.scorer.max_frames)
    full = StageConfig(**OmegaConf.to_container(cfg.full, resolve=True))
    lora = StageConfig(**OmegaConf.to_container(cfg.lora, resolve=True))
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
    print(md.read_text())
    print(f"scorer: TopRewardScorer({str(out / 'pretrained')!r}, adapter={str(out / 'adapter')!r})")
    print(f"report: {js}")


if __name__ == "__main__":
    main()
