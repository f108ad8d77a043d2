"""``score``: label a LeRobot dataset with a progress scorer → ``progress.parquet`` (rabc.reward.labeller).

Each finished episode is written atomically to ``<out>.parts/ep_XXXXXX.parquet``; ``resume=true`` skips finished
episodes, ``shard=i/n`` (or torchrun's RANK/WORLD_SIZE) takes every n-th episode, and the merge (automatic once
every episode is present) checks that every frame is covered exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults

if TYPE_CHECKING:
    from rabc.progress import ProgressTable

log = logging.getLogger(__name__)

#: episodes drawn (one per demo class in turn) for the progress-curve figure beside the parquet
PLOT_EPISODES = 6


@dataclass(frozen=True)
class ScoreResult:
    out: Path
    merged: bool  # False: this shard is done, other episodes are still missing
    num_frames: int | None = None
    num_episodes: int | None = None
    plots: tuple[Path, ...] = ()  # PNG figures written beside ``out`` (progress curves of sampled episodes)


def plot_curves(
    table: ProgressTable, root: str | Path, out: str | Path, *, scorer: str, reference: bool = True
) -> Path:
    """``<out stem>_curves.png``: the progress of a few sampled episodes (one per demo class in turn), with the
    dataset's oracle progress dashed where it has one (and the scorer is not the oracle itself)."""
    import numpy as np

    from rabc.data import dataset_info, episode_table
    from rabc.data.oracle import read_oracle_progress
    from rabc.data.splits import sample_episodes
    from rabc.io import RabcFileError
    from rabc.report.plots import plot_progress_curves

    out = Path(out)
    eps = episode_table(root).set_index("episode_index")
    scored = np.unique(table.episode_index)
    labelled = eps["quality_name"].astype(str).ne("").all()
    classes = eps.loc[scored, "quality_name"].astype(str).to_numpy() if labelled else None
    picked = sample_episodes(scored, classes, PLOT_EPISODES)
    oracle = None
    if reference:
        try:
            oracle = read_oracle_progress(root)
        except RabcFileError as e:  # a dataset rabc did not generate: no reference curve
            log.info("progress curves without an oracle reference: %s", e)
    curves, refs = {}, {}
    for ep in picked:
        row = eps.loc[ep]
        title = " · ".join(
            str(x) for x in (f"ep {ep}", row["env_task"] or row["task"], row["quality_name"]) if x
        )
        sel = table.episode_index == ep
        curves[title] = table.progress[sel][np.argsort(table.frame_index[sel])]
        if oracle is not None:
            osel = oracle.episode_index == ep
            refs[title] = oracle.progress[osel][np.argsort(oracle.frame_index[osel])]
    path = out.with_name(f"{out.stem}_curves.png")
    return plot_progress_curves(
        curves, path, fps=float(dataset_info(root).fps), reference=refs or None, label=scorer
    )


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
    is_oracle = scorer.provenance().get("scorer_class") == "OracleScorer"
    curves = plot_curves(table, cfg.dataset.root, cfg.out, scorer=name, reference=not is_oracle)
    log.info("wrote %s", curves)
    return ScoreResult(Path(cfg.out), merged=True, num_frames=len(table), num_episodes=n_eps, plots=(curves,))
