"""Closed-loop rollouts of a policy in Meta-World, batched across environments.

``act`` receives the observations of all envs of a batch stacked along a leading axis (lerobot keys, numpy) and
returns actions (B, 4). Envs step in lock-step so that stateful policies (ACT's and Diffusion's action queues,
which assume a fixed batch) see a constant batch size; an env that has succeeded keeps stepping, but its result
is frozen at its first success. Each task's own step limit (``max_path_length``) is used unless overridden.

With ``num_workers >= 2`` the envs of a batch are spread over that many processes with gymnasium's
``AsyncVectorEnv`` (each process steps its share of the batch, :class:`rabc.sim.env.MetaWorldBatchEnv`); the policy
stays in the calling process; :class:`RolloutWorkers` keeps those processes for several tasks. Each env depends
only on its seed and its actions, so both paths give the same results for the same seeds (tested).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from tqdm.auto import tqdm

from rabc.sim.env import MetaWorldBatchEnv, MetaWorldEnv
from rabc.types import image_key

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


class _SerialEnvs:
    """``n`` envs stepped in turn in this process."""

    def __init__(self, task: str, n: int, camera: str | None, image_size: int) -> None:
        self.envs = [MetaWorldEnv(task, camera=camera, image_size=image_size) for _ in range(n)]
        self.n, self.max_steps = n, self.envs[0].max_steps
        self.active = self.envs

    def reset(self, seeds: list[int]) -> dict[str, np.ndarray]:
        self.active = self.envs[: len(seeds)]  # a last, smaller batch steps only its own envs
        obs = [env.reset(s) for env, s in zip(self.active, seeds)]
        return {k: np.stack([o[k] for o in obs]) for k in obs[0]}

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        results = [env.step(a) for env, a in zip(self.active, actions)]
        obs = {k: np.stack([r.obs[k] for r in results]) for k in results[0].obs}
        return obs, np.array([r.success for r in results])

    def close(self) -> None:
        for env in self.envs:
            env.close()


class RolloutWorkers:
    """``n`` envs over ``workers`` processes (gymnasium ``AsyncVectorEnv``, forkserver: each worker makes its own
    rendering context, as lerobot's env factory does). Use as a context manager.

    The processes outlive one task: :meth:`set_task` rebuilds the envs of every worker in place, so an evaluation
    of several tasks pays the worker start-up (a Meta-World import per process) once. Pass it to
    :func:`rollout_task` as ``workers=``.
    """

    def __init__(self, task: str, n: int, workers: int, camera: str | None, image_size: int) -> None:
        import gymnasium as gym

        if workers < 2 or n < 2:
            raise ValueError(f"RolloutWorkers needs >= 2 workers and >= 2 envs, got {workers} and {n}")
        self.k = -(-n // min(workers, n))  # envs per worker
        self.workers = -(-n // self.k)
        self.n = self.k * self.workers  # >= n; extra envs step on a copy of a seed and are ignored
        self.task, self.camera = task, camera
        fns = [partial(MetaWorldBatchEnv, task, self.k, w, camera, image_size) for w in range(self.workers)]
        self.vec = gym.vector.AsyncVectorEnv(fns, context="forkserver", shared_memory=True)
        self.max_steps = int(self.vec.call("max_steps")[0])

    def set_task(self, task: str) -> None:
        """Rebuild every worker's envs for ``task`` (no-op when it is the current one)."""
        if task != self.task:
            self.vec.call("set_task", task)
            self.task, self.max_steps = task, int(self.vec.call("max_steps")[0])

    def _flat(self, obs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        flat = {k: v.reshape(self.n, *v.shape[2:]) for k, v in obs.items()}
        return flat, flat.pop("success").astype(bool)

    def reset(self, seeds: list[int]) -> dict[str, np.ndarray]:
        padded = seeds + [seeds[-1]] * (self.n - len(seeds))
        obs, _ = self.vec.reset(options={"seeds": padded})
        return self._flat(obs)[0]

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        padded = np.zeros((self.n, actions.shape[1]), dtype=np.float32)
        padded[: len(actions)] = actions
        obs, *_ = self.vec.step(padded.reshape(self.workers, self.k, -1))
        return self._flat(obs)

    def close(self) -> None:
        self.vec.close()

    def __enter__(self) -> RolloutWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    num_workers: int = 0,
    workers: RolloutWorkers | None = None,
    show_progress: bool = True,
) -> TaskRollouts:
    """Roll ``act`` out on ``task`` from each seed's initial state.

    Args:
        act: batched policy, obs dict of (B, ...) arrays -> actions (B, 4).
        reset: clears the policy's internal state (action queues) before each batch of episodes.
        camera: camera to render into the observations (None for state-only policies; needed for videos).
        max_steps: step limit; default the env's own ``max_path_length``.
        record_videos: keep the camera frames of this many episodes (requires ``camera``).
        num_workers: 0 or 1 steps the envs in this process; >= 2 spreads a batch over that many processes
            (started and stopped by this call).
        workers: running worker processes to use instead (their camera and image size; they are switched to
            ``task``, batches hold their number of envs, and they are left running for the next task).
    """
    seeds = [int(s) for s in seeds]
    if workers is not None:
        camera = workers.camera
    if record_videos and camera is None:
        raise ValueError("record_videos needs a camera")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    n_env = max(1, min(batch_size, len(seeds)))
    envs: _SerialEnvs | RolloutWorkers
    if workers is not None:
        workers.set_task(task)
        envs, n_env = workers, min(workers.n, len(seeds))
    elif num_workers >= 2 and n_env >= 2:
        envs = RolloutWorkers(task, n_env, num_workers, camera, image_size)
    else:
        envs = _SerialEnvs(task, n_env, camera, image_size)
    img_key = None if camera is None else image_key(camera)
    success = np.zeros(len(seeds), dtype=bool)
    steps = np.zeros(len(seeds), dtype=np.int64)
    videos: list[np.ndarray] = []
    try:
        limit = int(max_steps or envs.max_steps)
        bar = tqdm(
            total=len(seeds), desc=f"rollouts {task}", unit="ep", disable=not show_progress, leave=False
        )
        for start in range(0, len(seeds), n_env):
            chunk = seeds[start : start + n_env]
            m = len(chunk)
            reset()
            obs = envs.reset(chunk)
            done = np.zeros(m, dtype=bool)
            frames: list[list[np.ndarray]] = [[] for _ in chunk]
            for t in range(limit):
                batch = {k: v[:m] for k, v in obs.items()}
                actions = np.asarray(act(batch), dtype=np.float32).reshape(m, -1)
                if img_key is not None:
                    for i in range(m):
                        if start + i < record_videos and not done[i]:
                            frames[i].append(batch[img_key][i].copy())
                obs, succ = envs.step(actions)
                new = succ[:m] & ~done
                success[start : start + m] |= new
                steps[start : start + m][new] = t + 1
                done |= new
                if done.all():
                    break
            steps[start : start + m][~done] = limit
            videos.extend(np.stack(f) for i, f in enumerate(frames) if start + i < record_videos and f)
            bar.update(m)
        bar.close()
    finally:
        if envs is not workers:
            envs.close()
    log.info("%s: %d/%d successes", task, int(success.sum()), len(seeds))
    return TaskRollouts(task, np.asarray(seeds), success, steps, videos)


def noisy_expert(task: str, noise_std: float = 0.6, seed: int = 0) -> tuple[Callable, Callable[[], None]]:
    """(act, reset) of a deterministic closed-loop reference policy: Meta-World's scripted expert on the observed
    state plus a fixed, seed-independent action perturbation (so some episodes fail and every outcome depends on
    every step's observation). Used to check the rollout paths against each other and to benchmark them."""
    from metaworld.policies import ENV_POLICY_MAP

    expert = ENV_POLICY_MAP[task]()  # type: ignore[abstract]  # the map holds concrete subclasses
    noise = np.random.default_rng(seed).normal(0, noise_std, size=(500, 4)).astype(np.float32)
    t = {"step": 0}

    def act(batch: dict[str, np.ndarray]) -> np.ndarray:
        k, t["step"] = t["step"], t["step"] + 1
        # the raw Meta-World observation the expert reads
        raw = np.zeros((len(batch["observation.state"]), 39))
        raw[:, 0:4] = batch["observation.state"]
        raw[:, 4:18] = batch["observation.environment_state"][:, :14]
        raw[:, 36:39] = batch["observation.environment_state"][:, 14:]
        return np.stack([expert.get_action(r) for r in raw]).astype(np.float32) + noise[k % len(noise)]

    def reset() -> None:
        t["step"] = 0

    return act, reset
