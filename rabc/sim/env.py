"""Meta-World v3 environment factory (used for demo generation and for evaluation rollouts).

metaworld is used directly rather than through ``lerobot.envs.metaworld``, which hard-codes 500 steps, reuses the
same seeds for every task and renders 480×480 through a shared gymnasium viewer. Here:

* the goal/object layout of every episode is drawn from the env's own ``np_random`` seeded by ``reset(seed)``
  (metaworld's ``seeded_rand_vec`` path), so one seed gives one initial state and different seeds differ;
* the step limit is the env's ``max_path_length`` (500 for all v3 tasks today, but read, not assumed);
* images come from one ``mujoco.Renderer`` owned by this env and closed in :meth:`MetaWorldEnv.close` — a
  garbage-collected renderer of a closed env can otherwise blank a live env's frames (shared EGL context);
  shadows, reflections and multisampling are off (≈8 → 40–190 frames/s headless with ``MUJOCO_GL=egl``);
* Meta-World's cameras render upside down with MuJoCo's renderer; frames are rotated by 180° (as lerobot does
  for ``corner2``) so the robot stands upright.

Observations use lerobot's keys:
    ``observation.state``             float32 (4,)   hand xyz + gripper opening (raw obs[0:4])
    ``observation.environment_state`` float32 (17,)  object pos+quat padded to 14 (obs[4:18]) + goal xyz (obs[36:39])
    ``observation.images.<camera>``   uint8 (H, W, 3)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rabc.sim.tasks import TaskSpec, get_task
from rabc.types import OBS_ENV_STATE, OBS_STATE, image_key

logger = logging.getLogger(__name__)

STATE_DIM = 4
ENV_STATE_DIM = 17
ACTION_DIM = 4
STATE_NAMES = ["hand_x", "hand_y", "hand_z", "gripper"]
ENV_STATE_NAMES = [f"obj_{i}" for i in range(14)] + ["goal_x", "goal_y", "goal_z"]
ACTION_NAMES = ["dx", "dy", "dz", "grip"]
CAMERAS = ("corner", "corner2", "corner3", "topview", "behindGripper", "gripperPOV")
#: Meta-World simulates at 80 control steps per second (frame_skip 5 × 2.5 ms): its ``render_fps``.
CONTROL_FPS = 80


@dataclass
class StepResult:
    obs: dict[str, np.ndarray]
    reward: float
    success: bool
    truncated: bool
    info: dict[str, Any]


class MetaWorldEnv:
    """One Meta-World v3 task with lerobot-style observations. Use as a context manager or call :meth:`close`.

    Args:
        task: metaworld v3 env name (must be in :data:`rabc.sim.tasks.TASKS`).
        camera: one of :data:`CAMERAS`; ``None`` disables rendering (state-only, faster).
        image_size: square image side in pixels.
    """

    def __init__(self, task: str, camera: str | None = "corner", image_size: int = 128) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco creates a GL context
        import mujoco
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS
        from metaworld.policies import ENV_POLICY_MAP

        self.spec: TaskSpec = get_task(task)
        if task not in ALL_V3_ENVIRONMENTS:
            raise ValueError(f"{task!r} is not a Meta-World v3 environment")
        if camera is not None and camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; Meta-World cameras: {CAMERAS}")
        if image_size <= 0:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.camera, self.image_size = camera, int(image_size)
        env = ALL_V3_ENVIRONMENTS[task]()
        # Goal-observable, seeded layouts: what metaworld's MT1 wrappers do, without its 50 frozen goals.
        env._partially_observable = False
        del env.sawyer_observation_space  # cached_property: recomputed with the goal bounds
        env._set_task_called = True
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        self._env = env
        self._mujoco = mujoco
        # ENV_POLICY_MAP's values are concrete policies; mypy infers the map's value type as their abstract base
        self._expert = ENV_POLICY_MAP[task]()  # type: ignore[abstract]
        self._renderer = None
        if camera is not None:
            env.model.vis.quality.offsamples = 0  # no multisampling: read when the renderer is made
            self._renderer = mujoco.Renderer(env.model, self.image_size, self.image_size)
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self.raw_obs: np.ndarray | None = None
        self._closed = False

    # ------------------------------------------------------------------ properties
    @property
    def task(self) -> str:
        return self.spec.name

    @property
    def instruction(self) -> str:
        return self.spec.instruction

    @property
    def max_steps(self) -> int:
        """The env's own step limit (``max_path_length``)."""
        return int(self._env.max_path_length)

    @property
    def image_key(self) -> str | None:
        return None if self.camera is None else image_key(self.camera)

    @property
    def unwrapped(self) -> Any:
        return self._env

    @property
    def tcp_center(self) -> np.ndarray:
        """Gripper centre (mean of both finger sites), (3,)."""
        return np.asarray(self._env.tcp_center, dtype=np.float64).copy()

    # ------------------------------------------------------------------ API
    def reset(self, seed: int) -> dict[str, np.ndarray]:
        """Reset to the layout drawn from ``seed`` (deterministic). Returns the first observation."""
        if self._closed:
            raise RuntimeError(f"{self.task}: env is closed")
        self._env.seed(int(seed))
        self._env.reset()
        # metaworld's reset observation is taken before the moved bodies (window, drawer, ...) are propagated:
        # recompute it from a forwarded state so frame 0 shows where things really are.
        self._mujoco.mj_forward(self._env.model, self._env.data)
        cur = self._env._get_curr_obs_combined_no_goal()
        self._env._prev_obs = cur.copy()
        raw = np.hstack([cur, cur, self._env._get_pos_goal()]).astype(np.float64)
        self.raw_obs = raw
        return self._observe(raw)

    def step(self, action: np.ndarray) -> StepResult:
        """Apply ``action`` (4,) in [-1, 1]: xyz hand displacement and gripper effort."""
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        raw, reward, _, truncated, info = self._env.step(np.clip(action, -1.0, 1.0))
        self.raw_obs = raw
        return StepResult(self._observe(raw), float(reward), bool(info["success"]), bool(truncated), info)

    def expert_action(self, raw_obs: np.ndarray | None = None) -> np.ndarray:
        """Scripted expert action (metaworld.policies) for the raw observation (default: the current one)."""
        return np.asarray(self._expert.get_action(self._raw(raw_obs)), dtype=np.float32)

    def evaluate(self, raw_obs: np.ndarray | None = None) -> dict[str, Any]:
        """The env's own reward terms for the current state (``obj_to_target``, ``success``, ...)."""
        _, info = self._env.evaluate_state(self._raw(raw_obs), np.zeros(ACTION_DIM, dtype=np.float32))
        return info

    def render(self) -> np.ndarray:
        """Current camera frame, uint8 (H, W, 3), upright."""
        if self._renderer is None:
            raise RuntimeError(f"{self.task}: env was made without a camera")
        self._renderer.update_scene(self._env.data, camera=self.camera)
        return np.ascontiguousarray(self._renderer.render()[::-1, ::-1])

    def close(self) -> None:
        if self._closed:
            return
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()
        self._closed = True

    def __enter__(self) -> MetaWorldEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers
    def _raw(self, raw_obs: np.ndarray | None) -> np.ndarray:
        """``raw_obs``, or the current raw observation (an error before the first reset)."""
        if raw_obs is not None:
            return raw_obs
        if self.raw_obs is None:
            raise RuntimeError(f"{self.task}: no observation yet; call reset() first")
        return self.raw_obs

    def _observe(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        obs = split_raw_obs(raw)
        if self._renderer is not None and self.camera is not None:
            obs[image_key(self.camera)] = self.render()
        return obs


def split_raw_obs(raw: np.ndarray) -> dict[str, np.ndarray]:
    """Map a raw metaworld observation (39,) to lerobot's state keys (float32)."""
    raw = np.asarray(raw)
    if raw.shape[-1] != 39:
        raise ValueError(f"expected a 39-dim Meta-World observation, got shape {raw.shape}")
    return {
        OBS_STATE: raw[..., 0:4].astype(np.float32),
        OBS_ENV_STATE: np.concatenate([raw[..., 4:18], raw[..., 36:39]], axis=-1).astype(np.float32),
    }


class MetaWorldBatchEnv(gym.Env):
    """``k`` :class:`MetaWorldEnv` of one task stepped in turn, as one ``gymnasium.Env`` for a vector-env worker.

    A gymnasium vector env runs one sub-env per process; packing ``k`` envs into each sub-env lets a batch of any
    size run over as many worker processes as there are cores. Observations are the lerobot keys with a leading
    axis ``k`` plus ``success`` (int8, ``k``); the action is (k, 4). Episodes never end on their own (the caller
    counts steps), so the vector env's autoreset never fires. ``reset(options={"seeds": [...]})`` takes the seeds of
    the whole vector env; this sub-env uses its slice ``[slot * k, slot * k + k)``.
    """

    def __init__(
        self, task: str, k: int, slot: int, camera: str | None = None, image_size: int = 128
    ) -> None:
        # Headless EGL without a GPU renders with Mesa's llvmpipe, which starts a thread per core in every
        # process; the worker processes already fill the cores (measured: 1.60x -> 1.70x over serial on 2 cores).
        os.environ.setdefault("LP_NUM_THREADS", "1")
        self.envs = [MetaWorldEnv(task, camera=camera, image_size=image_size) for _ in range(k)]
        self.k, self.slot = int(k), int(slot)
        obs: dict[str, spaces.Space[Any]] = {
            OBS_STATE: spaces.Box(-np.inf, np.inf, (k, STATE_DIM), np.float32),
            OBS_ENV_STATE: spaces.Box(-np.inf, np.inf, (k, ENV_STATE_DIM), np.float32),
            "success": spaces.Box(0, 1, (k,), np.int8),
        }
        key = self.envs[0].image_key
        if key is not None:
            obs[key] = spaces.Box(0, 255, (k, image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (k, ACTION_DIM), np.float32)

    @property
    def max_steps(self) -> int:
        return self.envs[0].max_steps

    def set_task(self, task: str) -> None:
        """Replace the ``k`` envs by envs of ``task`` (same camera and image size: the spaces are unchanged)."""
        camera, size = self.envs[0].camera, self.envs[0].image_size
        self.close()
        self.envs = [MetaWorldEnv(task, camera=camera, image_size=size) for _ in range(self.k)]

    def _stack(self, obs: list[dict[str, np.ndarray]], success: np.ndarray) -> dict[str, np.ndarray]:
        out = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
        out["success"] = success.astype(np.int8)
        return out

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        seeds = list((options or {}).get("seeds", []))[self.slot * self.k : self.slot * self.k + self.k]
        if len(seeds) != self.k:
            raise ValueError(
                f"reset needs options={{'seeds': [...]}} covering slot {self.slot} of {self.k} envs"
            )
        obs = [env.reset(s) for env, s in zip(self.envs, seeds)]
        return self._stack(obs, np.zeros(self.k, dtype=bool)), {}

    def step(self, action: np.ndarray):
        results = [env.step(a) for env, a in zip(self.envs, np.asarray(action, dtype=np.float32))]
        success = np.array([r.success for r in results])
        reward = float(sum(r.reward for r in results))
        return self._stack([r.obs for r in results], success), reward, False, False, {}

    def close(self) -> None:
        for env in self.envs:
            env.close()
