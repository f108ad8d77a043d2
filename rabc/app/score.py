"""``score``: label a LeRobot dataset with a progress scorer → ``progress.parquet`` (rabc.reward.labeller).

Each finished episode is written atomically to ``<out>.parts/ep_XXXXXX.parquet``; ``resume=true`` skips finished
episodes, ``shard=i/n`` (or torchrun's RANK/WORLD_SIZE) takes every n-th episode, and the merge (automatic once
every episode is present) checks that every frame is covered exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreResult:
    out: Path
    merged: bool  # False: this shard is done, other episodes are still missing
    num_frames: int | None = None
    num_episodes: int | None = None


def run(cfg: DictConfig) -> ScoreResult:
    runtime_defaults()
    from hydra.utils import instantiate

    from rabc.reward.labeller import label_dataset

    scorer_cfg = OmegaConf.to_container(cfg.scorer, resolve=True)
    assert isinstance(scorer_cfg, dict)
    name = scorer_cfg.pop("name", None) or str(scorer_cfg.get("_target_", "scorer"))
    scorer = instantiate(scorer_cfg, _convert_="all")
    episodes = None if cfg.episodes is None else list(cfg.episodes)
    table = label_dataset(
        cfg.dataset.root, scorer, cfg.out, scorer_name=name, shard=cfg.shard, resume=cfg.resume,
        merge=cfg.merge, merge_only=cfg.merge_only, episodes=episodes, camera=cfg.dataset.camera,
        show_progress=cfg.progress_bar,
    )  # fmt: skip
    if table is None:
        log.info("shard done; other episodes still missing — merge later with merge_only=true")
        return ScoreResult(Path(cfg.out), merged=False)
    n_eps = int(table.provenance["num_episodes"])
    log.info("wrote %s: %d frames, %d episodes", cfg.out, len(table), n_eps)
    return ScoreResult(Path(cfg.out), merged=True, num_frames=len(table), num_episodes=n_eps)
