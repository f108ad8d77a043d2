"""The in-domain tiny TOPReward scorer: full training of a tiny random Qwen3-VL on generated sim videos (standing in
for pretraining), then LoRA adaptation, each stage evaluated before/after (``python scripts/make_indomain_scorer.py``,
configs/indomain_scorer.yaml)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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
    ``full`` stage into ``<out>/pretrained``, the ``lora`` stage into ``<out>/adapter``, the report.

    ``members > 1``: the same recipe from that many model seeds (``model.seed + i``, stage seeds ``+ i``), each
    under ``<out>/members/seed<s>``, all on the same videos; the member with the highest frame AUC on the
    validation episodes (held-out episodes of the scorer's own videos) is copied to ``<out>/pretrained`` and
    ``<out>/adapter``. The recipe's outcome varies with the seed far more than its validation metrics' noise
    (rabc/reward/README.md, "A scorer that sees detours"): choosing on validation episodes is what makes it
    dependable.
    """
    from rabc.data import dataset_fingerprint, generate_dataset, split_episodes
    from rabc.data.generate import GenerateConfig
    from rabc.io import atomic_write, provenance_stamp
    from rabc.reward.finetune_run import random_reference, write_report

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
    n = int(cfg.get("members", 1))
    if n < 1:
        raise ValueError(f"members must be >= 1, got {n}")
    report = {
        "dataset": str(root), "dataset_fingerprint": dataset_fingerprint(root), "splits": splits,
        "random_reference": random_reference(root, splits, cfg.scorer.num_anchors),
        "model_size": cfg.model.size, "scorer": node(cfg.scorer), **provenance_stamp(),
    }  # fmt: skip
    if n == 1:
        report["stages"] = train_member(cfg, root, splits, out, 0)
    else:
        members = []
        for i in range(n):
            seed = int(cfg.model.seed) + i
            member_dir = out / "members" / f"seed{seed}"
            stages = train_member(cfg, root, splits, member_dir, i)
            val_auc = stages["lora"]["after"]["val"]["frame_auc"]
            members.append(
                {"model_seed": seed, "dir": str(member_dir), "val_frame_auc": val_auc, "stages": stages}
            )
            log.info("member %d/%d (model seed %d): val frame AUC %.3f", i + 1, n, seed, val_auc)
        aucs = np.array([m["val_frame_auc"] for m in members], dtype=np.float64)
        if not np.isfinite(aucs).any():
            raise ValueError(
                f"{root}: no member has a validation frame AUC (no sidecar labels?): cannot choose"
            )
        best = int(np.nanargmax(aucs))
        for name in ("pretrained", "adapter"):
            copy_dir(Path(members[best]["dir"]) / name, out / name)
        report["members"] = [{k: v for k, v in m.items() if k != "stages"} for m in members]
        report["selected"] = {"member": best, "model_seed": members[best]["model_seed"],
                              "rule": "highest frame AUC on the validation episodes"}  # fmt: skip
        report["stages"] = members[best]["stages"]
    report["adapter_hash"] = report["stages"]["lora"]["adapter_hash"]
    auc, floor = report["stages"]["lora"]["after"]["val"]["frame_auc"], float(cfg.min_val_frame_auc)
    # the seed decides much of a scorer's quality (rabc/reward/README.md): say so when the kept one is a bad draw
    if np.isfinite(auc) and auc < floor:
        report["warnings"] = [
            f"the kept scorer's validation frame AUC is {auc:.3f}, below min_val_frame_auc {floor}: its progress may "
            "not tell bad frames from good ones; train more members (members=N, or another model.seed)"
        ]
        log.warning(report["warnings"][0])
    js, md = write_report(out, report, "In-domain tiny TOPReward scorer")
    log.info(
        "scorer: TopRewardScorer(%r, adapter=%r); report: %s",
        str(out / "pretrained"),
        str(out / "adapter"),
        md,
    )
    return IndomainScorerResult(out / "adapter", report["adapter_hash"], js, md, report, out / "pretrained")


def train_member(cfg: DictConfig, root: Path, splits: dict[str, list[int]], out: Path, offset: int) -> dict:
    """``<out>/base`` (random init, model seed ``model.seed + offset``), the ``full`` stage into
    ``<out>/pretrained`` and the ``lora`` stage into ``<out>/adapter`` (stage seeds ``+ offset``): the stages'
    before/after evaluations."""
    from rabc.reward.finetune_run import StageConfig
    from rabc.reward.tiny import make_tiny_vlm
    from rabc.reward.topreward import TopRewardScorer

    base = make_tiny_vlm(out / "base", size=cfg.model.size, seed=int(cfg.model.seed) + offset)
    scorer = TopRewardScorer(str(base), **node(cfg.scorer))
    lightning: dict[str, Any] = {
        "trainer": node(cfg.get("trainer")),
        "logger": node(cfg.get("logger")),
        "show_progress": True,
    }
    full = StageConfig(**{**node(cfg.full), "seed": int(cfg.full.seed) + offset})
    lora = StageConfig(**{**node(cfg.lora), "seed": int(cfg.lora.seed) + offset})
    stages = {"full": finetune_stage(scorer, root, splits, full, out / "pretrained", run_dir=out / "train" / "full",
                                     **lightning)}  # fmt: skip
    stages["lora"] = finetune_stage(
        scorer, root, splits, lora, out / "adapter", evaluate_before=False, run_dir=out / "train" / "lora",
        **lightning,
    )  # fmt: skip
    stages["lora"]["before"] = stages["full"]["after"]
    return stages


def copy_dir(src: Path, dst: Path) -> None:
    """Replace ``dst`` by a copy of ``src`` (copied beside it first, then renamed: never half a model)."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    old = dst.with_name(f".{dst.name}.old")
    if dst.exists():
        dst.rename(old)
    tmp.rename(dst)
    shutil.rmtree(old, ignore_errors=True)
