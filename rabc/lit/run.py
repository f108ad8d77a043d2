"""``train(cfg)``: what ``python train.py`` does after Hydra has composed the config.

dataset → weights (computed from the progress parquet, or a given weights.parquet) → policy + processors →
Lightning fit → lerobot export. Every run directory holds what reproduces it: ``run.json`` (resolved config, seed,
git sha, dataset fingerprint, progress/weights hashes), ``weights.parquet`` + diagnostics, Lightning checkpoints,
TensorBoard logs, and ``policy/`` in lerobot's own layout (EMA weights when enabled).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger

from rabc.data import dataset_fingerprint, episode_table, load_dataset, read_sidecar, split_episodes
from rabc.data.weights import diagnose, episode_info, labels_from_episodes, make_weights
from rabc.io import file_sha256, provenance_stamp, write_json
from rabc.lit.callbacks import HParamsSummary, ProgressFigure, RolloutEval, WeightHistograms
from rabc.lit.datamodule import InMemoryFrames, LeRobotFrames, WeightedDataModule
from rabc.lit.module import WeightedBCModule
from rabc.policies import make_policy
from rabc.progress import is_oracle_progress
from rabc.weighting import WeightTable, format_diagnostics, format_separation
from rabc.weighting.core import check_horizon_covers_chunk

log = logging.getLogger(__name__)


def prepare_weights(
    cfg: DictConfig, run_dir: Path, episodes, fingerprint: str, num_frames: int, fps: float
) -> WeightTable:
    """Load ``cfg.weights`` or compute them from ``cfg.progress`` with ``cfg.weighting`` into the run dir
    (:func:`rabc.data.weights.make_weights`); diagnostics and separation report to ``weights_diagnostics.json``."""
    labels = labels_from_episodes(episodes)
    max_weight = cfg.weighting.get("max_weight")  # the config's clip, when the scheme has one
    if cfg.weights:
        table = WeightTable.load(
            cfg.weights,
            expect_num_frames=num_frames,
            expect_fingerprint=fingerprint,
            fallback_weight=cfg.data.fallback_weight,
        )
        index = labels["index"]
        uniform = (
            table.metadata.get("scheme") == "uniform"
        )  # BC is uniform by design: no near-uniform warning
        diag = diagnose(
            index,
            table.lookup(index),
            labels=labels,
            dataset_root=cfg.dataset.root,
            max_weight=max_weight,
            near_uniform_cv=0.0 if uniform else 0.05,
        )
    else:
        scheme = instantiate(OmegaConf.to_container(cfg.weighting, resolve=True))
        made = make_weights(
            scheme,
            cfg.progress,
            run_dir / "weights.parquet",
            dataset_root=cfg.dataset.root,
            labels=labels,
            episode_info=episode_info(episodes),
            fps=fps,  # the dataset's: a progress file from another tool may not record it
            expect_num_frames=num_frames,
            expect_fingerprint=fingerprint,
            extra_meta={"dataset_fingerprint": fingerprint},
        )
        table = WeightTable.from_result(
            made.result,
            made.meta,
            fallback_weight=cfg.data.fallback_weight,
            source=str(run_dir / "weights.parquet"),
        )
        diag = made.diagnostics
    write_json(run_dir / "weights_diagnostics.json", diag)
    log.info("weights (%s):\n%s", cfg.weighting.name, format_diagnostics(diag))
    if "separation" in diag:
        log.info("%s", format_separation(diag["separation"]))
    return table


def run_params(cfg: DictConfig) -> dict[str, Any]:
    """The run's parameters for the TensorBoard hparams tab: scheme and its scalar parameters, policy, seed, steps,
    batch size, sampling, learning rate, EMA, progress source."""
    weighting = OmegaConf.to_container(cfg.weighting, resolve=True)
    assert isinstance(weighting, dict)
    params: dict[str, Any] = {
        "name": cfg.name,
        "scheme": cfg.weighting.name,
        "policy": cfg.policy.name,
        "seed": cfg.seed,
        "max_steps": cfg.trainer.max_steps,
        "batch_size": cfg.data.batch_size,
        "sampling": cfg.data.sampling,
        "lr": cfg.optimizer.lr,
        "ema_decay": cfg.ema_decay,
        "progress": Path(cfg.progress).name if cfg.progress else None,
        "weights": Path(cfg.weights).name if cfg.weights else None,
    }
    scalar = (bool, int, float, str, type(None))
    params |= {
        f"weighting/{k!s}": v
        for k, v in weighting.items()
        if k not in ("_target_", "name") and isinstance(v, scalar)
    }
    return params


def story_callbacks(
    cfg: DictConfig,
    run_dir: Path,
    episodes: pd.DataFrame,
    table: WeightTable,
    *,
    tasks: list[str],
    postprocessor: Any,
    tensorboard: bool,
) -> list[pl.Callback]:
    """The callbacks of ``cfg.tensorboard`` (:mod:`rabc.lit.callbacks`): weight histograms, progress figure and
    hparams tab with a TensorBoard logger; the rollout evaluation whenever its interval is set."""
    tb = cfg.tensorboard
    out: list[pl.Callback] = []
    rollouts = None
    if tb.rollout_every_n_steps:
        side = read_sidecar(cfg.dataset.root) or {}
        rollouts = RolloutEval(
            postprocessor,
            tasks,
            every_n_steps=int(tb.rollout_every_n_steps),
            episodes=int(tb.rollout_episodes),
            max_steps=tb.rollout_max_steps,
            batch_size=int(tb.rollout_batch_size),
            frames=int(tb.rollout_frames),
            demo_seeds=side.get("all_seeds", []),
        )
        out.append(rollouts)
    if not tensorboard:
        return out
    labels = labels_from_episodes(episodes)
    if tb.weight_histograms:
        out.append(WeightHistograms(table.lookup(labels["index"]), labels.get("quality")))
    progress = cfg.progress if not cfg.weights else table.metadata.get("progress_path")
    if tb.progress_episodes > 0 and progress and Path(progress).is_file():
        out.append(
            ProgressFigure(
                progress,
                cfg.dataset.root,
                episodes,
                weight_of=table.lookup,
                num_episodes=int(tb.progress_episodes),
                reference=not is_oracle_progress(progress, cfg.dataset.root),
                seed=cfg.seed,
            )
        )
    elif tb.progress_episodes > 0:
        log.info("no progress figure: the progress file %s is not here", progress)
    if tb.hparams:
        diag = json.loads((run_dir / "weights_diagnostics.json").read_text())
        weight_metrics = {
            "ess_frac": diag.get("ess_fraction"),
            "zero_frac": diag.get("zero_fraction"),
            "weight_cv": diag.get("cv"),
            "separation_auc": (diag.get("separation") or {}).get("auc"),
        }
        out.append(HParamsSummary(run_params(cfg), weight_metrics, rollouts))
    return out


def train(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    root = Path(cfg.dataset.root)
    ds_full = load_dataset(root)
    meta = ds_full.meta
    fingerprint = dataset_fingerprint(root)
    episodes = episode_table(root)
    table = prepare_weights(cfg, run_dir, episodes, fingerprint, int(meta.total_frames), float(meta.fps))

    split = split_episodes(root, val_fraction=cfg.data.val_fraction, seed=cfg.seed)
    train_eps, val_eps = split["train"], split["val"]
    if cfg.data.tasks:
        keep = set(episodes.loc[episodes["env_task"].isin(list(cfg.data.tasks)), "episode_index"])
        unknown = set(cfg.data.tasks) - set(episodes["env_task"])
        if unknown:
            raise ValueError(f"data.tasks names tasks absent from the dataset: {sorted(unknown)}")
        train_eps, val_eps = [e for e in train_eps if e in keep], [e for e in val_eps if e in keep]
    policy_node = OmegaConf.to_container(cfg.policy, resolve=True)
    assert isinstance(policy_node, dict)  # the policy group is a mapping
    policy_cfg = {str(k): v for k, v in policy_node.items()}
    policy_name = policy_cfg.pop("name")
    policy, preprocessor, postprocessor = make_policy(policy_name, ds_meta=meta, **policy_cfg)
    derived = table.metadata.get("derived") or {}
    if derived.get("horizon_frames"):  # an increment-based scheme: does its horizon cover an executed chunk?
        check_horizon_covers_chunk(
            int(derived["horizon_frames"]),
            str(derived.get("direction")),
            policy.n_action_steps,
            meta.fps,
        )
    use_images = bool(policy_cfg.get("use_images", False))
    frames: LeRobotFrames | InMemoryFrames
    if use_images:
        frames = LeRobotFrames(root, policy.delta_timestamps(meta.fps), repo_id=meta.repo_id)
    else:
        hf = ds_full.hf_dataset.with_format("numpy")
        keys = ["index", "episode_index", *policy.config.input_features, "action"]
        columns = {k: np.asarray(hf[k]) for k in keys}
        bounds = {int(r.episode_index): (int(r.from_index), int(r.to_index)) for r in episodes.itertuples()}
        frames = InMemoryFrames(columns, bounds, policy.delta_indices(), keys)
    dm = WeightedDataModule(
        frames,
        train_eps,
        val_eps,
        table,
        batch_size=cfg.data.batch_size,
        num_workers=cfg.data.num_workers,
        sampling=cfg.data.sampling,
        seed=cfg.seed,
    )
    module = WeightedBCModule(
        policy,
        instantiate(cfg.optimizer),
        preprocessor=preprocessor,
        scheduler=instantiate(cfg.scheduler) if cfg.scheduler else None,
        ema_decay=cfg.ema_decay,
        weight_cap=cfg.weighting.get("max_weight"),
    )
    callbacks: list[pl.Callback] = [
        pl.callbacks.ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            save_last=True,
            save_top_k=0,
            every_n_train_steps=cfg.get("checkpoint_every_n_steps"),
        )
    ]
    logger = (
        instantiate(cfg.logger, save_dir=str(run_dir)) if cfg.logger and "_target_" in cfg.logger else False
    )
    if logger:
        callbacks.append(pl.callbacks.LearningRateMonitor(logging_interval="step"))
    callbacks += story_callbacks(
        cfg,
        run_dir,
        episodes,
        table,
        tasks=sorted(set(episodes.loc[episodes["episode_index"].isin(train_eps), "env_task"])),
        postprocessor=postprocessor,
        tensorboard=isinstance(logger, TensorBoardLogger),
    )
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=logger, default_root_dir=str(run_dir)
    )

    record = {
        "name": cfg.name,
        "seed": cfg.seed,
        **provenance_stamp(),
        "dataset_root": str(root),
        "dataset_fingerprint": fingerprint,
        "progress": cfg.progress,
        "progress_sha256": file_sha256(cfg.progress)
        if cfg.progress and Path(cfg.progress).is_file()
        else None,
        "weights_sha256": file_sha256(cfg.weights or run_dir / "weights.parquet"),
        "train_episodes": train_eps,
        "val_episodes": val_eps,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    write_json(run_dir / "run.json", record)
    ckpt = cfg.ckpt_path
    if ckpt == "last":
        ckpt = str(run_dir / "checkpoints" / "last.ckpt")
    # weights_only: a checkpoint is never an arbitrary pickle (it holds tensors and plain containers only)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt, weights_only=True)

    if trainer.is_global_zero:
        module.eval_policy.save_pretrained(run_dir / "policy", preprocessor, postprocessor)
    result = {
        "run_dir": str(run_dir),
        "steps": max(int(trainer.global_step), int(module.batches_done)),
        "skipped_steps": int(module.skipped_steps),
        **{k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1},
    }
    write_json(run_dir / "train_result.json", result)
    return result
