"""Evaluate a trained policy by closed-loop rollouts on held-out seeds (and held-out tasks).

The policy and its processors are rebuilt from the run's own exported ``policy/`` directory (lerobot layout), or,
for a Lightning ``.ckpt`` (e.g. of a run that has not finished), from the run's own config in ``run.json`` with the
checkpoint's weights (its EMA weights when the run keeps an EMA, as the export does). The tasks default to the run's
training tasks, the seeds to a block disjoint from every seed the demos used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rabc.data import episode_table, load_dataset, read_sidecar
from rabc.io import RabcFileError, write_json
from rabc.metrics import wilson_interval
from rabc.policies import load_pretrained, make_policy
from rabc.sim.rollout import RolloutWorkers, rollout_task

log = logging.getLogger(__name__)

#: Evaluation seed blocks, far from the demo generator's seeds; each split is checked for overlap anyway.
SEED_BASE = {"val": 10_000_000, "test": 20_000_000}
#: Each task has its own block inside a split: task i of the registry (rabc.sim.tasks.TASKS) starts at
#: base + i * TASK_BLOCK, so no two tasks share an env seed.
TASK_BLOCK = 100_000


def eval_seeds(split: str, n: int, demo_seeds: Sequence[int] = (), task: str | None = None) -> list[int]:
    """``n`` env seeds of ``split`` (val: tuning, test: reporting) for ``task`` (its own block; None: the
    split's first block), none of them a demonstration seed."""
    from rabc.sim.tasks import TASKS, get_task

    if split not in SEED_BASE:
        raise ValueError(f"seed split must be one of {sorted(SEED_BASE)}, got {split!r}")
    if not 0 < n <= TASK_BLOCK:
        raise ValueError(f"episodes per task must be in 1..{TASK_BLOCK}, got {n}")
    start = SEED_BASE[split] + (list(TASKS).index(get_task(task).name) * TASK_BLOCK if task else 0)
    seeds = list(range(start, start + n))
    clash = set(seeds) & {int(s) for s in demo_seeds}
    if clash:
        raise ValueError(f"evaluation seeds {sorted(clash)[:5]} were used for demonstrations")
    return seeds


def make_act_fn(policy, preprocessor, postprocessor, device: str = "cpu"):
    """numpy obs batch (lerobot keys) -> numpy actions (B, A), through lerobot's processors."""

    def act(obs: dict[str, np.ndarray]) -> np.ndarray:
        batch = {}
        for k, v in obs.items():
            t = torch.as_tensor(v)
            if t.dtype == torch.uint8:  # (B, H, W, C) camera frames -> (B, C, H, W) floats in [0, 1]
                t = t.permute(0, 3, 1, 2).float() / 255.0
            batch[k] = t.to(device)
        with torch.no_grad():
            action = policy.select_action(preprocessor(batch))
            action = postprocessor(action)
        return action.detach().cpu().numpy()

    return act


def policy_camera(policy: Any, frames: bool = False) -> tuple[str | None, int]:
    """(camera, image side) to render for ``policy``: its first image input at the size it was trained on, or
    the ``corner`` camera at 128 px when only ``frames`` (videos, image strips) are wanted, else no camera."""
    for key, feature in policy.config.input_features.items():
        if key.startswith("observation.images."):
            return key.rsplit(".", 1)[-1], int(feature.shape[-1])
    return ("corner" if frames else None), 128


def find_policy_dir(checkpoint: str | Path) -> Path:
    """A run directory (its ``policy/``) or a lerobot policy directory."""
    path = Path(checkpoint)
    for cand in (path / "policy", path):
        if (cand / "config.json").is_file():
            return cand
    raise RabcFileError(f"{path}: no exported policy (expected {path / 'policy'}/config.json)")


def locate(checkpoint: str | Path) -> tuple[Path, Path]:
    """(policy source, run directory) of a run directory, a lerobot policy directory or a run's ``.ckpt``."""
    path = Path(checkpoint)
    if path.suffix == ".ckpt":
        if not path.is_file():
            raise RabcFileError(f"{path}: checkpoint file not found")
        return path, path.parent.parent if path.parent.name == "checkpoints" else path.parent
    source = find_policy_dir(path)
    return source, source.parent if source.name == "policy" else source


def eval_json_path(checkpoint: str | Path, seed_split: str) -> Path:
    """Where :func:`evaluate` writes by default: ``<run dir>/eval_<split>.json``, or
    ``eval_<split>_<ckpt stem>.json`` for a ``.ckpt``."""
    return _json_path(*locate(checkpoint), seed_split)


def _json_path(source: Path, run_dir: Path, seed_split: str) -> Path:
    stem = f"_{source.stem}" if source.suffix == ".ckpt" else ""
    return run_dir / f"eval_{seed_split}{stem}.json"


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise RabcFileError(f"{path}: not valid JSON ({e})") from e


def load_checkpoint_policy(ckpt: str | Path, run: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Policy + processors of a Lightning checkpoint: rebuilt from the run's resolved config (``run.json``) and
    dataset statistics, then loaded with the checkpoint's weights (``weights_only=True``); the EMA weights when the
    checkpoint holds an EMA (what the run's export and validation use)."""
    ckpt = Path(ckpt)
    if not run.get("config") or not run.get("dataset_root"):
        raise RabcFileError(f"{ckpt}: no run.json with the run's config beside its checkpoints/ directory")
    policy_kw = dict(run["config"]["policy"])
    policy, pre, post = make_policy(
        policy_kw.pop("name"), ds_meta=load_dataset(run["dataset_root"]).meta, **policy_kw
    )
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:
        raise RabcFileError(f"{ckpt}: not a readable checkpoint ({e})") from e
    if "ema" in state:
        weights = state["ema"]["averaged"]
    else:
        weights = {k[len("policy.") :]: v for k, v in state["state_dict"].items() if k.startswith("policy.")}
    policy.load_state_dict(weights)
    return policy, pre, post


def evaluate(
    checkpoint: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    heldout_tasks: Sequence[str] | None = None,
    episodes: int = 20,
    seed_split: str = "test",
    batch_size: int = 10,
    max_steps: int | None = None,
    record_videos: int = 0,
    num_workers: int = 0,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Roll out the policy of ``checkpoint`` (a run directory, a lerobot policy directory or a run's ``.ckpt``)
    and write ``eval.json`` (default: ``<run dir>/eval_<split>.json``, ``eval_<split>_<ckpt stem>.json`` for a
    ``.ckpt``); recorded videos go to ``videos/<task>/`` beside it."""
    source, run_dir = locate(checkpoint)
    run = _read_run(run_dir)
    if source.suffix == ".ckpt":
        policy, pre, post = load_checkpoint_policy(source, run)
    else:
        policy, pre, post = load_pretrained(source)
    out = Path(out) if out is not None else _json_path(source, run_dir, seed_split)
    root = run.get("dataset_root")
    sidecar = read_sidecar(root) if root else None
    demo_seeds = sidecar.get("all_seeds", []) if sidecar else []
    if tasks is None or heldout_tasks is None:
        if not root:
            raise ValueError(f"{run_dir}: no run.json with the dataset root; give tasks explicitly")
        eps = episode_table(root)
        train_eps = set(run.get("train_episodes", []))
        if tasks is None:
            tasks = sorted(set(eps.loc[eps["episode_index"].isin(train_eps), "env_task"]))
        if heldout_tasks is None:
            heldout_tasks = sorted(set(eps.loc[eps["heldout"].astype(bool), "env_task"]))
    seeds = {t: eval_seeds(seed_split, episodes, demo_seeds, t) for t in [*tasks, *heldout_tasks]}
    policy.eval()
    act = make_act_fn(policy, pre, post)
    cam, image_size = policy_camera(policy, frames=record_videos > 0)

    all_tasks = [*tasks, *heldout_tasks]
    pool = None
    if num_workers >= 2 and batch_size >= 2 and all_tasks:  # one set of worker processes for every task
        pool = RolloutWorkers(all_tasks[0], batch_size, num_workers, cam, image_size)

    def run_tasks(names: Sequence[str]) -> dict[str, Any]:
        res = {}
        for task in names:
            r = rollout_task(
                act,
                policy.reset,
                task,
                seeds[task],
                batch_size=batch_size,
                camera=cam,
                image_size=image_size,
                max_steps=max_steps,
                record_videos=record_videos,
                workers=pool,
            )
            _, lo, hi = wilson_interval(int(r.success.sum()), len(r.seeds))
            res[task] = {
                "episodes": len(r.seeds),
                "successes": int(r.success.sum()),
                "rate": r.rate,
                "ci95": [lo, hi],
                "mean_steps": float(r.steps.mean()),
                "env_seeds": seeds[task],
                "outcomes": r.success.astype(int).tolist(),  # per env seed: the paired design's unit
            }
            if r.videos:
                _save_videos(out.parent / "videos" / task, r.videos)
        return res

    def pooled(res: dict[str, Any]) -> dict[str, Any]:
        n = sum(v["episodes"] for v in res.values())
        k = sum(v["successes"] for v in res.values())
        return {
            "episodes": n,
            "successes": k,
            "rate": k / n if n else float("nan"),
            "ci95": list(wilson_interval(k, n)[1:]) if n else [float("nan")] * 2,
        }

    try:
        per_task = run_tasks(tasks)
        heldout = run_tasks(heldout_tasks)
    finally:
        if pool is not None:
            pool.close()
    config = run.get("config", {})
    report = {
        "checkpoint": str(source),
        "name": run.get("name"),
        "policy": policy.config.type,
        "weighting": (config.get("weighting") or {}).get("name"),
        "progress": run.get("progress"),
        "train_seed": run.get("seed"),
        "seed_split": seed_split,
        "seeds": seeds,  # {task: env seeds}, a disjoint block per task
        "tasks": per_task,
        "overall": pooled(per_task),
        "heldout_tasks": heldout,
        "heldout_overall": pooled(heldout) if heldout else None,
        "git_sha": run.get("git_sha"),
        "config_hash": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16],
    }
    write_json(out, report)
    log.info("overall success %.3f %s -> %s", report["overall"]["rate"], report["overall"]["ci95"], out)
    return report


def _save_videos(directory: Path, videos: list[np.ndarray], fps: int = 30) -> None:
    import imageio.v3 as iio

    directory.mkdir(parents=True, exist_ok=True)
    for i, frames in enumerate(videos):
        # H.264 plays everywhere; PyAV's wheels ship libx264 (imageio's pyav plugin needs the codec named)
        iio.imwrite(directory / f"episode_{i}.mp4", frames, fps=fps, codec="libx264", plugin="pyav")
