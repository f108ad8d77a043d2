"""Closed-loop rollouts of a policy in Meta-World, batched across environments.

``act`` receives the observations of all envs of a batch stacked along a leading axis (lerobot keys, numpy) and
returns actions (B, 4). Envs step in lock-step so that stateful policies (ACT's and Diffusion's action queues,
which assume a fixed batch) see a constant batch size; an env that has succeeded keeps stepping, but its result
is frozen at its first success. Each task's own step limit (``max_path_length``) is used unless overridden.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from rabc.sim.env import MetaWorldEnv

log = logging.getLogger(__name__)

ActFn = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class TaskRollouts:
    """Outcome of rollouts of one task. Arrays have shape (num_episodes,)."""

    task: str
    seeds: np.ndarray
    success: np.ndarray  # bool
    steps: np.ndarray  # steps until first success, or the step limit
    videos: list[np.ndarray] = field(default_factory=list)  # uint8 (T, H, W, 3) of the first episodes

    @property
    def rate(self) -> float:
        return float(self.success.mean()) if len(self.success) else float("nan")


def rollout_task(
    act: ActFn,
    reset: Callable[[], None],
    task: str,
    seeds: Sequence[int],
    *,
    batch_size: int = 8,
    camera: str | None = None,
    image_size: int = 128,
    max_steps: int | None = None,
    record_videos: int = 0,
    show_progress: bool = True,
) -> TaskRollouts:
    """Roll ``act`` out on ``task`` from each seed's initial state.

    Args:
        act: batched policy, obs dict of (B, ...) arrays -> actions (B, 4).
        reset: clears the policy's internal state (action queues) before each batch of episodes.
        camera: camera to render into the observations (None for state-only policies; needed for videos).
        max_steps: step limit; default the env's own ``max_path_length``.
        record_videos: keep the camera frames of this many episodes (requires ``camera``).
    """
    seeds = [int(s) for s in seeds]
    if record_videos and camera is None:
        raise ValueError("record_videos needs a camera")
    n_env = max(1, min(batch_size, len(seeds)))
    envs = [MetaWorldEnv(task, camera=camera, image_size=image_size) for _ in range(n_env)]
    success = np.zeros(len(seeds), dtype=bool)
    steps = np.zeros(len(seeds), dtype=np.int64)
    videos: list[np.ndarray] = []
    try:
        limit = int(max_steps or envs[0].max_steps)
        bar = tqdm(
            total=len(seeds), desc=f"rollouts {task}", unit="ep", disable=not show_progress, leave=False
        )
        for start in range(0, len(seeds), n_env):
            chunk = seeds[start : start + n_env]
            active = envs[: len(chunk)]
            reset()
            obs = [env.reset(seed) for env, seed in zip(active, chunk)]
            done = np.zeros(len(chunk), dtype=bool)
            frames: list[list[np.ndarray]] = [[] for _ in chunk]
            for t in range(limit):
                batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
                actions = np.asarray(act(batch), dtype=np.float32).reshape(len(chunk), -1)
                for i, env in enumerate(active):
                    if start + i < record_videos and not done[i] and env.image_key is not None:
                        frames[i].append(obs[i][env.image_key])
                    result = env.step(actions[i])
                    obs[i] = result.obs
                    if result.success and not done[i]:
                        done[i] = True
                        success[start + i] = True
                        steps[start + i] = t + 1
                if done.all():
                    break
            steps[start : start + len(chunk)][~done] = limit
            videos.extend(np.stack(f) for i, f in enumerate(frames) if start + i < record_videos and f)
            bar.update(len(chunk))
        bar.close()
    finally:
        for env in envs:
            env.close()
    log.info("%s: %d/%d successes", task, int(success.sum()), len(seeds))
    return TaskRollouts(task, np.asarray(seeds), success, steps, videos)
