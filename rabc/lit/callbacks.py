"""Lightning callbacks that make a run's TensorBoard tell its story (``configs/train.yaml``'s ``tensorboard`` block).

- :class:`WeightHistograms`: once at fit start, the per-frame weights of every frame as ``weights/all`` and, on a
  labelled dataset, one histogram per demo class (quality label) as ``weights/<class>``.
- :class:`ProgressFigure`: once at fit start, a figure of a few episodes' progress (the curve the weights were
  computed from) against the simulator's oracle progress where the dataset has it, with the per-frame weight on
  a second axis (``story/progress``).
- :class:`RolloutEval`: every N training steps, a short closed-loop evaluation of the current policy (the EMA
  weights when kept) on validation env seeds: ``eval/success/<task>`` and ``eval/success`` scalars and a strip of
  frames of one rollout (``eval/rollout/<task>``; an image, so no video encoder is needed).
- :class:`HParamsSummary`: at the end of training the hparams tab: the run's parameters with its final metrics
  (validation loss, weight diagnostics, last rollout success).

The figures and images need a TensorBoard logger; with another logger or none (``logger=none``) those callbacks do
nothing, and the rollout evaluation still runs and logs its success rates.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from rabc.data.splits import sample_episodes
from rabc.io import RabcFileError
from rabc.metrics import wilson_interval

log = logging.getLogger(__name__)


def tensorboard_writer(trainer: pl.Trainer) -> Any | None:
    """The ``SummaryWriter`` of the trainer's TensorBoard logger, or None when it has none."""
    from pytorch_lightning.loggers import TensorBoardLogger

    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def frame_strip(frames: np.ndarray, n: int, gap: int = 2) -> np.ndarray:
    """``n`` evenly spaced frames of a (T, H, W, 3) uint8 rollout side by side, white gaps: (H, W', 3) uint8."""
    idx = np.unique(np.linspace(0, len(frames) - 1, max(1, min(n, len(frames)))).round().astype(int))
    h = frames.shape[1]
    white = np.full((h, gap, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i in idx:
        parts += [frames[i], white]
    return np.concatenate(parts[:-1], axis=1)


class WeightHistograms(pl.Callback):
    """Per-frame weights of the dataset's frames as TensorBoard histograms, once at fit start.

    Args:
        weight: (N,) weight of every frame the run trains on.
        classes: (N,) demo class of each frame (quality name), or None for an unlabelled dataset.
    """

    def __init__(self, weight: np.ndarray, classes: np.ndarray | None = None) -> None:
        self.weight = np.asarray(weight, dtype=np.float32)
        self.classes = None if classes is None else np.asarray(classes).astype(str)
        if self.classes is not None and len(self.classes) != len(self.weight):
            raise ValueError(f"{len(self.weight)} weights but {len(self.classes)} class labels")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not trainer.is_global_zero:
            return
        step = trainer.global_step
        writer.add_histogram("weights/all", self.weight, step)
        if self.classes is not None:
            for name in sorted(set(self.classes)):
                writer.add_histogram(f"weights/{name}", self.weight[self.classes == name], step)


class ProgressFigure(pl.Callback):
    """A figure of a few episodes' progress vs oracle progress (and weight), logged once at fit start.

    Args:
        progress: the progress parquet the weights were computed from.
        dataset_root: the dataset (its oracle progress is the reference curve where it exists).
        episodes: :func:`rabc.data.episode_table` of the dataset (titles: task and demo class).
        weight_of: global frame index (N,) -> weight (N,), or None.
        num_episodes: panels in the figure.
        reference: draw the oracle curve (False when ``progress`` is the oracle itself).
    """

    def __init__(
        self,
        progress: str | Path,
        dataset_root: str | Path,
        episodes: pd.DataFrame,
        *,
        weight_of: Callable[[np.ndarray], np.ndarray] | None = None,
        num_episodes: int = 4,
        reference: bool = True,
        seed: int = 0,
    ) -> None:
        self.progress, self.dataset_root = Path(progress), Path(dataset_root)
        self.episodes, self.weight_of = episodes, weight_of
        self.num_episodes, self.reference, self.seed = num_episodes, reference, seed

    def figure(self) -> Any:
        """The matplotlib figure (one panel per sampled episode)."""
        from matplotlib.figure import Figure

        from rabc.data import dataset_info
        from rabc.data.oracle import read_oracle_progress
        from rabc.progress import read_progress

        table = read_progress(self.progress)
        oracle = None
        if self.reference:
            try:
                oracle = read_oracle_progress(self.dataset_root)
            except RabcFileError as e:  # a dataset rabc did not generate has no oracle: no reference curve
                log.info("progress figure without an oracle reference: %s", e)
        fps = float(dataset_info(self.dataset_root).fps)
        picked = sample_episodes(
            self.episodes["episode_index"],
            self.episodes["quality_name"].astype(str),
            self.num_episodes,
            seed=self.seed,
        )
        rows = self.episodes.set_index("episode_index")
        cols = min(2, len(picked))
        nrows = -(-len(picked) // cols)
        fig = Figure(figsize=(5.2 * cols, 3.2 * nrows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False, sharey=True)).ravel()
        handles: list[Any] = []
        legend_ax = axes[0]  # the first panel's top axis, so no curve hides the legend
        for ax, ep in zip(axes, picked):
            sel = table.episode_index == ep
            t = table.frame_index[sel] / fps
            ax.plot(t, table.progress[sel], color="C0", lw=1.8, label="progress (weighting)")
            if oracle is not None:
                osel = oracle.episode_index == ep
                ax.plot(oracle.frame_index[osel] / fps, oracle.progress[osel], "C1--", lw=1.4, label="oracle")
            if self.weight_of is not None:
                ax2 = ax.twinx()
                ax2.plot(t, self.weight_of(table.index[sel]), color="0.45", lw=1.0, alpha=0.8, label="weight")
                ax2.set_ylabel("weight", color="0.35")
                ax2.set_ylim(bottom=0)
                if not handles:
                    handles, legend_ax = ax.get_lines() + ax2.get_lines(), ax2
            row = rows.loc[ep]
            task = row.get("env_task") or row.get("task", "")
            ax.set_title(f"ep {ep} · {task} · {row.get('quality_name') or '?'}", fontsize=10)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("progress")
            ax.set_ylim(-0.05, 1.05)
            ax.grid(alpha=0.3)
        for ax in axes[len(picked) :]:
            ax.set_visible(False)
        legend_ax.legend(handles=handles or axes[0].get_lines(), loc="upper left", fontsize=8, framealpha=0.9)
        fig.suptitle(f"progress of sampled episodes ({self.progress.name})", fontsize=11)
        return fig

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not trainer.is_global_zero or self.num_episodes < 1:
            return
        writer.add_figure("story/progress", self.figure(), trainer.global_step, close=True)


class RolloutEval(pl.Callback):
    """Roll the current policy out every ``every_n_steps`` training steps and log the success rates.

    Uses :func:`rabc.lit.evaluate.eval_seeds` (each task's own block of validation seeds, none a demo seed),
    :func:`rabc.lit.evaluate.make_act_fn` and :func:`rabc.sim.rollout.rollout_task`, as ``eval.py`` does. Torch,
    numpy and Python random states are restored afterwards, so the rollouts leave training's randomness alone.

    Args:
        postprocessor: the policy's lerobot postprocessor (the module holds the preprocessor).
        tasks: env task names to roll out (the run's training tasks).
        demo_seeds: every env seed the demonstrations used (refused as evaluation seeds).
        frames: frames of the first task's first rollout logged as an image strip (0 = none).
    """

    def __init__(
        self,
        postprocessor: Any,
        tasks: Sequence[str],
        *,
        every_n_steps: int,
        episodes: int = 2,
        max_steps: int | None = None,
        batch_size: int = 2,
        frames: int = 8,
        demo_seeds: Sequence[int] = (),
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"rollout_every_n_steps must be >= 1 (or null = off), got {every_n_steps}")
        if not tasks or not all(tasks):
            raise ValueError(
                f"rollout evaluation needs the env task names of the training episodes, got {tasks}"
            )
        self.postprocessor, self.tasks = postprocessor, list(tasks)
        self.every, self.episodes, self.max_steps = every_n_steps, episodes, max_steps
        self.batch_size, self.frames = batch_size, frames
        from rabc.lit.evaluate import eval_seeds  # the simulator is imported only when rollouts are asked for

        self.seeds = {t: eval_seeds("val", episodes, demo_seeds, t) for t in self.tasks}
        self.last_step = -1
        self.history: list[dict[str, Any]] = []  # {"step", "success", "tasks": {task: rate}} per evaluation

    @property
    def last_success(self) -> float | None:
        return self.history[-1]["success"] if self.history else None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step == 0 or step % self.every or step == self.last_step or not trainer.is_global_zero:
            return
        self.last_step = step
        self.evaluate(trainer, pl_module, step)

    def evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int) -> dict[str, Any]:
        from rabc.lit.evaluate import make_act_fn, policy_camera
        from rabc.lit.module import WeightedBCModule
        from rabc.sim.rollout import rollout_task

        if not isinstance(pl_module, WeightedBCModule):
            raise TypeError(f"rollout evaluation needs a WeightedBCModule, got {type(pl_module).__name__}")
        policy = pl_module.eval_policy
        camera, image_size = policy_camera(policy, frames=self.frames > 0)
        device = pl_module.device
        was_training = policy.training
        # the global generators, which lerobot and Meta-World code may draw from: saved and restored as they are
        np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
        rates: dict[str, float] = {}
        successes = episodes = 0
        video: tuple[str, np.ndarray] | None = None
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            policy.eval()
            act = make_act_fn(policy, pl_module.preprocessor, self.postprocessor, device=str(device))
            try:
                for task in self.tasks:
                    r = rollout_task(
                        act,
                        policy.reset,
                        task,
                        self.seeds[task],
                        batch_size=self.batch_size,
                        camera=camera,
                        image_size=image_size,
                        max_steps=self.max_steps,
                        record_videos=1 if self.frames and video is None else 0,
                        show_progress=False,
                    )
                    rates[task] = r.rate
                    successes += int(r.success.sum())
                    episodes += len(r.seeds)
                    if r.videos and video is None:
                        video = (task, r.videos[0])
            finally:
                policy.reset()
                policy.train(was_training)
                np.random.set_state(np_state)  # noqa: NPY002
                random.setstate(py_state)
        pooled = successes / episodes
        lo, hi = wilson_interval(successes, episodes)[1:]
        metrics = {f"eval/success/{t}": v for t, v in rates.items()} | {"eval/success": pooled}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)
        writer = tensorboard_writer(trainer)
        if writer is not None and video is not None:
            writer.add_image(
                f"eval/rollout/{video[0]}", frame_strip(video[1], self.frames), step, dataformats="HWC"
            )
        log.info(
            "step %d: rollout success %d/%d = %.3f (95%% CI %.2f-%.2f) %s",
            step, successes, episodes, pooled, lo, hi, {t: round(v, 3) for t, v in rates.items()},
        )  # fmt: skip
        record = {"step": step, "success": pooled, "tasks": rates}
        self.history.append(record)
        return record


class HParamsSummary(pl.Callback):
    """The TensorBoard hparams tab, written at the end of training: ``params`` with the final metrics.

    Args:
        params: flat run parameters (scheme, weighting parameters, policy, seed, steps, batch size, ...).
        weight_metrics: run-level weight diagnostics (e.g. ``{"ess_frac": 0.61}``), logged as ``hp/<name>``.
        rollouts: the run's :class:`RolloutEval`, whose last success rate becomes ``hp/eval_success``.
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        weight_metrics: Mapping[str, float] | None = None,
        rollouts: RolloutEval | None = None,
    ) -> None:
        self.params, self.weight_metrics, self.rollouts = dict(params), dict(weight_metrics or {}), rollouts

    def metrics(self, trainer: pl.Trainer) -> dict[str, float]:
        final = {"hp/val_loss": "val/loss_unweighted", "hp/train_loss": "train/loss"}
        out = {
            k: float(trainer.callback_metrics[v]) for k, v in final.items() if v in trainer.callback_metrics
        }
        out |= {
            f"hp/{k}": float(v) for k, v in self.weight_metrics.items() if v is not None and np.isfinite(v)
        }
        if self.rollouts is not None and self.rollouts.last_success is not None:
            out["hp/eval_success"] = float(self.rollouts.last_success)
        out["hp/steps"] = float(trainer.global_step)
        return out

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from pytorch_lightning.loggers import TensorBoardLogger

        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.log_hyperparams(self.params, self.metrics(trainer), step=trainer.global_step)
