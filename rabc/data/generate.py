"""Mixed-quality Meta-World demo datasets: scripted demos → LeRobotDataset v3.0 + oracle progress + sidecar.

Outputs, under ``root``:
    LeRobot v3.0 dataset   ``observation.state`` (4), ``observation.environment_state`` (17), ``action`` (4),
                           ``observation.images.<camera>`` (video, H×W×3), per-frame ``quality`` (int64),
                           ``success`` (int64, the episode's success, repeated per frame), ``progress_oracle``
                           (float32); task string = the task's instruction (rabc.sim.tasks)
    ``progress/oracle.parquet``     oracle progress in lerobot's progress format (rabc.progress), scorer "oracle"
    ``meta/rabc_generation.json``   generator config, per-episode seed/task/quality/success/length, all seeds used

fps: 80, Meta-World's control rate (one frame per env step, ``rabc.sim.env.CONTROL_FPS``), so timestamps are
simulated time and recorded actions are exactly the executed commands. Episode ends: see rabc.sim.demos.
The whole dataset is written into a temporary sibling directory and renamed onto ``root`` at the end, so a
crashed run never leaves a half-written dataset at ``root``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from tqdm.auto import tqdm

from rabc.data.lerobot_io import (
    SIDECAR_PATH,
    create_dataset,
    dataset_fingerprint,
    episode_table,
    episodes_meta,
)
from rabc.data.oracle import ORACLE_PROGRESS_PATH
from rabc.io import file_sha256, provenance_stamp, write_json
from rabc.progress import ProgressTable, write_progress
from rabc.sim.demos import QUALITY_NAMES, CorruptionParams, Quality, parse_quality, run_episode
from rabc.sim.env import (
    ACTION_NAMES,
    CONTROL_FPS,
    ENV_STATE_DIM,
    ENV_STATE_NAMES,
    STATE_DIM,
    STATE_NAMES,
    MetaWorldEnv,
)
from rabc.sim.tasks import DEFAULT_HELDOUT_TASKS, DEFAULT_TRAIN_TASKS, get_task
from rabc.types import ACTION, OBS_ENV_STATE, OBS_STATE, ORACLE_PROGRESS, QUALITY, SUCCESS, image_key

logger = logging.getLogger(__name__)

#: Default "noisy and sub-optimal" mix; it must contain detours and stop-halfway failures (they hurt plain BC).
NOISY_MIX = {"clean": 0.2, "noise": 0.2, "hesitate": 0.15, "detour": 0.25, "fail": 0.2}


@dataclass
class GenerateConfig:
    root: str
    train_tasks: Sequence[str] = DEFAULT_TRAIN_TASKS
    heldout_tasks: Sequence[str] = DEFAULT_HELDOUT_TASKS
    episodes_per_task: int = 5
    heldout_episodes_per_task: int = 2
    mix: Mapping[str, float] = field(default_factory=lambda: dict(NOISY_MIX))
    seed: int = (
        0  # env seeds are seed_start + episode number; corruption RNG derives from (env seed, quality)
    )
    seed_start: int = 0
    camera: str = "corner"
    image_size: int = 128
    repo_id: str = "rabc/metaworld_mixed"
    overwrite: bool = False
    corruption: Mapping[str, Any] = field(default_factory=dict)  # CorruptionParams overrides

    def __post_init__(self) -> None:
        for t in (*self.train_tasks, *self.heldout_tasks):
            get_task(t)
        overlap = set(self.train_tasks) & set(self.heldout_tasks)
        if overlap:
            raise ValueError(f"tasks {sorted(overlap)} are both training and held-out tasks")
        if self.episodes_per_task < 1 or self.heldout_episodes_per_task < 0:
            raise ValueError("episodes_per_task must be ≥ 1 and heldout_episodes_per_task ≥ 0")
        mix = {parse_quality(k).name.lower(): float(v) for k, v in dict(self.mix).items()}
        if any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"mix weights must be ≥ 0 with a positive sum, got {mix}")
        self.mix = mix
        _ = self.corruption_params  # validates the override keys

    @property
    def corruption_params(self) -> CorruptionParams:
        over: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list | tuple) else v for k, v in dict(self.corruption).items()
        }
        try:
            return CorruptionParams(**over)
        except TypeError as e:
            raise ValueError(f"bad corruption override {sorted(over)}: {e}") from e


def dataset_features(camera: str, image_size: int) -> dict[str, dict]:
    """lerobot feature spec of generated datasets."""
    return {
        OBS_STATE: {"dtype": "float32", "shape": (STATE_DIM,), "names": STATE_NAMES},
        OBS_ENV_STATE: {"dtype": "float32", "shape": (ENV_STATE_DIM,), "names": ENV_STATE_NAMES},
        ACTION: {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": ACTION_NAMES},
        image_key(camera): {
            "dtype": "video",
            "shape": (image_size, image_size, 3),
            "names": ["height", "width", "channels"],
        },
        QUALITY: {"dtype": "int64", "shape": (1,), "names": None},
        SUCCESS: {"dtype": "int64", "shape": (1,), "names": None},
        ORACLE_PROGRESS: {"dtype": "float32", "shape": (1,), "names": None},
    }


def allocate_qualities(mix: Mapping[str, float], n: int, rng: np.random.Generator) -> list[Quality]:
    """Exactly proportional (largest remainder) allocation of ``n`` episodes to quality levels, shuffled."""
    names = list(mix)
    p = np.array([mix[k] for k in names], dtype=np.float64)
    quota = p / p.sum() * n
    counts = np.floor(quota).astype(int)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    out = [parse_quality(k) for k, c in zip(names, counts) for _ in range(c)]
    return [out[i] for i in rng.permutation(n)]


def plan_episodes(cfg: GenerateConfig) -> list[dict[str, Any]]:
    """Deterministic list of (env task, held-out flag, env seed, quality) for every episode."""
    plan, k = [], 0
    groups = [(t, False, cfg.episodes_per_task) for t in cfg.train_tasks]
    groups += [(t, True, cfg.heldout_episodes_per_task) for t in cfg.heldout_tasks]
    for ti, (task, heldout, n) in enumerate(groups):
        rng = np.random.default_rng([cfg.seed, ti])
        for q in allocate_qualities(cfg.mix, n, rng):
            plan.append({"env_task": task, "heldout": heldout, "seed": cfg.seed_start + k, "quality": q})
            k += 1
    return plan


def generate_dataset(cfg: GenerateConfig, show_progress: bool = True) -> dict[str, Any]:
    """Generate the dataset described by ``cfg``; returns the sidecar dict (also written to disk)."""
    root = Path(cfg.root).resolve()
    if root.exists() and not cfg.overwrite:
        raise FileExistsError(f"{root}: already exists (set overwrite=true to replace it)")
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    params, plan = cfg.corruption_params, plan_episodes(cfg)
    features = dataset_features(cfg.camera, cfg.image_size)
    ds = create_dataset(tmp, features, CONTROL_FPS, repo_id=cfg.repo_id)
    os.environ.setdefault("SVT_LOG", "1")  # libsvtav1 (lerobot's video encoder): errors only, not its banner
    # metaworld's scripted policies warn on every clipped action; corrupted demos clip by design
    warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", category=UserWarning)
    datasets.disable_progress_bars()  # lerobot's per-episode `Map` bars would bury the one "demos" bar
    records: list[dict[str, Any]] = []  # one JSON record per episode (the sidecar's "episodes")
    progress: list[np.ndarray] = []
    sim_s, t_start = 0.0, time.perf_counter()
    envs: dict[str, MetaWorldEnv] = {}
    try:
        for i, item in enumerate(tqdm(plan, desc="demos", unit="ep", disable=not show_progress)):
            env = envs.get(item["env_task"])
            if env is None:  # one env (and renderer) per task, alive only while that task is generated
                for old in envs.values():
                    old.close()
                envs = {item["env_task"]: MetaWorldEnv(item["env_task"], cfg.camera, cfg.image_size)}
                env = envs[item["env_task"]]
            t0 = time.perf_counter()
            ep = run_episode(env, item["seed"], item["quality"], params)
            sim_s += time.perf_counter() - t0
            assert ep.images is not None
            for t in range(len(ep)):
                ds.add_frame(
                    {
                        OBS_STATE: ep.state[t],
                        OBS_ENV_STATE: ep.env_state[t],
                        ACTION: ep.action[t],
                        image_key(cfg.camera): ep.images[t],
                        QUALITY: np.array([int(ep.quality)], dtype=np.int64),
                        SUCCESS: np.array([int(ep.success)], dtype=np.int64),
                        ORACLE_PROGRESS: ep.progress[t : t + 1],
                        "task": ep.instruction,
                    }
                )
            ds.save_episode()
            progress.append(ep.progress)
            records.append(
                {
                    "episode_index": i,
                    "env_task": ep.task,
                    "task": ep.instruction,
                    "heldout": bool(item["heldout"]),
                    "seed": ep.seed,
                    "quality": int(ep.quality),
                    "quality_name": QUALITY_NAMES[int(ep.quality)],
                    "success": bool(ep.success),
                    "success_step": ep.success_step,
                    "length": len(ep),
                    "events": ep.events,
                }
            )
        ds.finalize()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for env in envs.values():
            env.close()
    total_s = time.perf_counter() - t_start

    fingerprint = dataset_fingerprint(tmp)
    meta = episodes_meta(tmp)
    from_index = meta["dataset_from_index"].to_numpy(np.int64)
    lengths = meta["length"].to_numpy(np.int64)
    ep_idx = np.repeat(meta["episode_index"].to_numpy(np.int64), lengths)
    frame_idx = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    table = ProgressTable(
        index=np.repeat(from_index, lengths) + frame_idx,
        episode_index=ep_idx,
        frame_index=frame_idx,
        progress=np.concatenate(progress),
        provenance={
            "scorer": "oracle",
            "definition": "rabc.sim.oracle.OracleProgress",
            "reach_weight": params.reach_weight,
            "dataset_fingerprint": fingerprint,
            "fps": CONTROL_FPS,
        },
    )
    write_progress(tmp / ORACLE_PROGRESS_PATH, table)

    video_bytes = sum(p.stat().st_size for p in (tmp / "videos").rglob("*.mp4"))
    per_q = {}
    for q, name in QUALITY_NAMES.items():
        s = [r["success"] for r in records if r["quality"] == q]
        per_q[name] = {"episodes": len(s), "success_rate": float(np.mean(s)) if s else None}
    sidecar = {
        "generator": "rabc.data.generate",
        **provenance_stamp(),
        "config": _jsonable(asdict(cfg)),
        "corruption_params": params.to_dict(),
        "fps": CONTROL_FPS,
        "camera": cfg.camera,
        "dataset_fingerprint": fingerprint,
        "oracle_progress": {"path": ORACLE_PROGRESS_PATH, "sha256": file_sha256(tmp / ORACLE_PROGRESS_PATH)},
        "quality_names": {str(k): v for k, v in QUALITY_NAMES.items()},
        "episodes": records,
        "all_seeds": sorted(int(r["seed"]) for r in records),
        "per_quality": per_q,
        "stats": {
            "num_episodes": len(records),
            "num_frames": int(lengths.sum()),
            "total_seconds": round(total_s, 3),
            "seconds_per_episode": round(total_s / max(len(records), 1), 4),
            "sim_render_seconds_per_episode": round(sim_s / max(len(records), 1), 4),
            "video_bytes": int(video_bytes),
        },
    }
    write_json(tmp / SIDECAR_PATH, sidecar)
    images_dir = tmp / "images"  # lerobot's temporary frame folder, empty after encoding
    if images_dir.is_dir() and not any(p.is_file() for p in images_dir.rglob("*")):
        shutil.rmtree(images_dir)
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    logger.info("wrote %d episodes (%d frames) to %s", len(records), int(lengths.sum()), root)
    return sidecar


def make_tiny_dataset(
    root: str | Path,
    tasks: Sequence[str] = ("push-v3", "drawer-open-v3"),
    qualities: Sequence[str] = ("clean", "detour", "fail"),
    heldout_tasks: Sequence[str] = ("drawer-close-v3",),
    image_size: int = 32,
    seed: int = 0,
) -> Path:
    """A small real dataset for tests (one episode per task × quality level, 32×32 video): a few seconds."""
    cfg = GenerateConfig(
        root=str(root),
        train_tasks=tuple(tasks),
        heldout_tasks=tuple(heldout_tasks),
        episodes_per_task=len(qualities),
        heldout_episodes_per_task=1 if heldout_tasks else 0,
        mix={q: 1.0 for q in qualities},
        seed=seed,
        image_size=image_size,
    )
    generate_dataset(cfg, show_progress=False)
    return Path(root)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


__all__ = [
    "GenerateConfig",
    "NOISY_MIX",
    "ORACLE_PROGRESS_PATH",
    "allocate_qualities",
    "dataset_features",
    "episode_table",
    "generate_dataset",
    "make_tiny_dataset",
    "plan_episodes",
]
