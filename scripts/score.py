"""Label a LeRobot dataset with a progress scorer → ``progress.parquet`` (lerobot's RA-BC format + raw columns).

    python scripts/score.py dataset.root=DIR scorer=topreward_tiny scorer.model=DIR out=PATH
    python scripts/score.py dataset.root=DIR scorer=topreward_qwen3vl_8b out=PATH shard=0/4 resume=true
    python scripts/score.py dataset.root=DIR scorer=oracle out=PATH          # or scorer=random
    python scripts/score.py dataset.root=DIR scorer=... out=PATH merge_only=true

Each finished episode is written atomically to ``<out>.parts/ep_XXXXXX.parquet``; ``resume=true`` skips finished
episodes, ``shard=i/n`` (or torchrun's RANK/WORLD_SIZE) takes every n-th episode, and the merge (automatic once
every episode is present) checks that every frame is covered exactly once. See rabc/reward/labeller.py.
"""

from __future__ import annotations

import logging

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rabc.reward.labeller import label_dataset

log = logging.getLogger("score")


@hydra.main(version_base=None, config_path="../configs", config_name="score")
def main(cfg: DictConfig) -> None:
    scorer_cfg = OmegaConf.to_container(cfg.scorer, resolve=True)
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
    else:
        log.info("wrote %s: %d frames, %d episodes", cfg.out, len(table), table.provenance["num_episodes"])


if __name__ == "__main__":
    main()
