"""Scripted demonstrations of controlled quality: the clean Meta-World expert and four ways of spoiling it.

Quality levels (stored per frame as the int feature ``quality`` and per episode in the sidecar JSON):

    0 clean      the scripted expert (metaworld.policies)
    1 noise      expert + Gaussian noise on the xyz command (σ = ``noise_std``)
    2 hesitate   1–``max_pauses`` pauses of ``pause_steps`` frames (xyz command 0, gripper kept)
    3 detour     once progress passes a random point in ``trigger_range``, the hand moves away from the goal
                 for ``detour_steps`` frames (gripper kept, so a held object comes along), then the expert
                 resumes and has to come back: a regression in the middle of the demo
    4 fail       once progress passes a random point in ``trigger_range`` the demonstrator gives up: it either
                 stops where it is or retreats towards its start pose, for ``fail_tail_steps`` frames, and the
                 episode ends there, unfinished (``fail_tail_steps`` long: a long give-up)
    5 wrong_target  once progress passes the trigger the demonstrator heads for a decoy point (the goal mirrored
                 through the hand's start, at table height) and hovers there for ``spoil_steps`` frames; the
                 episode ends there, unfinished: it teaches reaching / pushing toward the wrong place
    6 push_away  once progress passes the trigger (typically in contact) the hand pushes from the goal towards
                 and past the object for ``spoil_steps`` frames (gripper kept), moving the object away from the
                 goal; the episode ends there, unfinished

Every corruption but noise and hesitate ends its demo unfinished, so none of them silently produces good data;
the oracle progress (rabc.sim.oracle) of a wrong-target or push-away stretch stays flat or falls. This is enforced,
not assumed: on some layouts a give-up's retreat drags a drawer or window handle to the goal, or the way to a wrong
target passes through it; such a demo is redrawn (another trigger point and give-up mode, ``max_redraws`` times,
recorded as ``events["redraws"]``) and, should every draw succeed, kept with its honest ``success`` label and a
warning.

An episode ends ``post_success_steps`` frames after the first success (the success frames are recorded), at the
end of a failure's tail, after ``stall_steps`` frames without progress (the stateless scripted experts can get
stuck after a perturbation; the demonstrator gives up) or at the env's ``max_path_length``. Frame t holds the observation *before* action t
and the oracle progress of that observation. Everything is a function of (task, seed, quality, params).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from rabc.sim.env import ACTION_DIM, MetaWorldEnv
from rabc.sim.oracle import OracleProgress

log = logging.getLogger(__name__)


class Quality(enum.IntEnum):
    CLEAN = 0
    NOISE = 1
    HESITATE = 2
    DETOUR = 3
    FAIL = 4
    WRONG_TARGET = 5
    PUSH_AWAY = 6


QUALITY_NAMES: dict[int, str] = {int(q): q.name.lower() for q in Quality}
#: corruptions whose demo must end unfinished (a success is redrawn: see the module docstring)
UNFINISHED = (Quality.FAIL, Quality.WRONG_TARGET, Quality.PUSH_AWAY)


def parse_quality(name: str | int) -> Quality:
    if isinstance(name, int | np.integer):
        return Quality(int(name))
    try:
        return Quality[str(name).upper()]
    except KeyError:
        raise ValueError(f"unknown quality level {name!r}; known: {list(QUALITY_NAMES.values())}") from None


@dataclass(frozen=True)
class CorruptionParams:
    noise_std: float = 0.2
    max_pauses: int = 3
    pause_steps: tuple[int, int] = (8, 20)  # inclusive range of frames per pause
    detour_steps: tuple[int, int] = (15, 30)
    trigger_range: tuple[float, float] = (0.25, 0.6)  # oracle progress at which a detour/failure starts
    fail_tail_steps: int = 20
    fail_modes: tuple[str, ...] = ("stop", "retreat")  # a failure's tail: hold still, or go back up and home
    spoil_steps: int = 60  # length of a wrong-target or push-away stretch
    post_success_steps: int = 10
    stall_steps: int = 120  # end an episode whose progress has not risen by 0.01 for this many frames
    reach_weight: float = 0.3  # oracle progress reach weight (rabc.sim.oracle)
    max_redraws: int = 5  # redraws of an UNFINISHED corruption that reached success anyway

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Episode:
    """One recorded demo. Per-frame arrays have leading dimension T."""

    task: str
    instruction: str
    seed: int
    quality: Quality
    state: np.ndarray  # (T, 4) float32
    env_state: np.ndarray  # (T, 17) float32
    action: np.ndarray  # (T, 4) float32, the command actually executed
    progress: np.ndarray  # (T,) float32 oracle progress of each frame's observation
    images: np.ndarray | None  # (T, H, W, 3) uint8, or None without a camera
    success: bool
    success_step: int | None  # first frame whose state is a success, if any
    events: dict = field(default_factory=dict)  # what was done to the demo (pause/detour/failure frames)

    def __len__(self) -> int:
        return len(self.action)


class _Controller:
    """Turns expert actions into the chosen quality level. ``done`` ends a failed episode."""

    def __init__(self, quality: Quality, params: CorruptionParams, rng: np.random.Generator) -> None:
        self.q, self.p, self.rng = quality, params, rng
        self.done = False
        self.events: dict = {}
        self._mode: str | None = None
        self._left = 0
        self._start_hand: np.ndarray | None = None
        lo, hi = params.trigger_range
        self._trigger = float(rng.uniform(lo, hi))
        if quality == Quality.HESITATE:
            n = int(rng.integers(1, params.max_pauses + 1))
            starts = np.sort(rng.choice(np.arange(5, 60), size=n, replace=False))
            lens = rng.integers(params.pause_steps[0], params.pause_steps[1] + 1, size=n)
            self._pauses = {int(s): int(k) for s, k in zip(starts, lens)}
            self.events["pauses"] = [[int(s), int(k)] for s, k in zip(starts, lens)]
        if quality == Quality.FAIL:
            modes = tuple(params.fail_modes)
            if not modes or set(modes) - {"stop", "retreat"}:
                raise ValueError(f"fail_modes must be a non-empty subset of ('stop', 'retreat'), got {modes}")
            self._fail_mode = modes[int(rng.integers(len(modes)))]
            self.events["fail_mode"] = self._fail_mode
        self._used = False
        self._hold_at: np.ndarray | None = None

    def act(self, t: int, env: MetaWorldEnv, progress: float) -> np.ndarray:
        raw = env.raw_obs
        assert raw is not None
        if t == 0:
            self._start_hand = raw[:3].copy()
        expert = env.expert_action()
        a = expert.copy()
        if self.q == Quality.NOISE:
            a[:3] += self.rng.normal(0.0, self.p.noise_std, size=3)
        elif self.q == Quality.HESITATE:
            if t in self._pauses:
                self._mode, self._left = "pause", self._pauses[t]
        elif self.q == Quality.DETOUR and not self._used and progress >= self._trigger:
            self._used, self._mode = True, "detour"
            self._left = int(self.rng.integers(self.p.detour_steps[0], self.p.detour_steps[1] + 1))
            away = raw[:3] - raw[36:39]  # hand minus goal: away from the goal
            away[2] = abs(away[2]) + 0.1  # and upwards, off the table
            self._dir = away / max(np.linalg.norm(away), 1e-6)
            self.events["detour"] = [t, self._left]
        elif self.q == Quality.FAIL and not self._used and progress >= self._trigger:
            self._used, self._mode, self._left = True, "fail", self.p.fail_tail_steps
            self.events["fail_at"] = t
        elif (
            self.q in (Quality.WRONG_TARGET, Quality.PUSH_AWAY)
            and not self._used
            and progress >= self._trigger
        ):
            self._used, self._mode, self._left = True, self.q.name.lower(), self.p.spoil_steps
            goal, hand = raw[36:39], raw[:3]
            if self.q == Quality.WRONG_TARGET:
                assert self._start_hand is not None
                decoy = 2 * self._start_hand - goal  # the goal mirrored through the start pose
                self._target = np.array([decoy[0], decoy[1], max(float(goal[2]), 0.05)])
            else:
                away = raw[4:7] - goal  # goal -> object: pushing along it moves the object off the goal
                away[2] = 0.0
                self._dir = away / max(np.linalg.norm(away), 1e-6)
                self._target = hand
            self.events["spoiled"] = [t, self._left]  # the stretch that teaches the wrong motion
            self.events["fail_at"] = t  # the demo ends unfinished after it
        if self._mode in ("pause", "fail") and self._hold_at is None:
            self._hold_at = raw[:3].copy()  # pauses and stops hold the hand where it is
        if self._mode is not None:
            if self._mode == "pause":
                a[:3] = _hold_action(env, self._hold_at)
            elif self._mode == "detour":
                a[:3] = self._dir
            elif self._mode == "wrong_target":
                a[:3] = np.clip((self._target - raw[:3]) * 10.0, -1.0, 1.0)
            elif self._mode == "push_away":
                a[:3] = self._dir
            elif self._fail_mode == "stop":
                a[:3] = _hold_action(env, self._hold_at)
            else:  # retreat: straight up and back over the start pose, opening the gripper
                assert self._start_hand is not None
                a[:2] = np.clip((self._start_hand[:2] - raw[:2]) * 20.0, -1.0, 1.0)
                a[2], a[3] = 1.0, -1.0
            self._left -= 1
            if self._left <= 0:
                self.done = self._mode in ("fail", "wrong_target", "push_away")
                self._mode, self._hold_at = None, None
        return np.clip(a, -1.0, 1.0).astype(np.float32)


def _hold_action(env: MetaWorldEnv, target: np.ndarray | None) -> np.ndarray:
    """xyz command that brings the mocap target onto ``target``: the hand really stops (the mocap leads the
    hand by a few steps, so a zero command would let the hand drift on)."""
    assert target is not None
    mw = env.unwrapped
    return np.clip((target - mw.data.mocap_pos[0]) / mw.action_scale, -1.0, 1.0)


def run_episode(
    env: MetaWorldEnv,
    seed: int,
    quality: Quality | str | int = Quality.CLEAN,
    params: CorruptionParams | None = None,
) -> Episode:
    """Roll out one demo of ``quality`` on the layout of ``seed``; deterministic in (task, seed, quality, params).

    A give-up, wrong-target or push-away demo that reaches success anyway is redrawn with the next random stream
    (``params.max_redraws`` times; the first draw is the only one for every demo that ends unfinished)."""
    quality = parse_quality(quality)
    params = params or CorruptionParams()
    ep = _rollout(env, seed, quality, params, np.random.default_rng([int(seed), int(quality)]))
    redraws = 0
    while quality in UNFINISHED and ep.success and redraws < params.max_redraws:
        redraws += 1
        ep = _rollout(env, seed, quality, params, np.random.default_rng([int(seed), int(quality), redraws]))
        ep.events["redraws"] = redraws
    if quality in UNFINISHED and ep.success:
        log.warning(
            "%s seed %d: every %s draw reached success (%d redraws); kept with success=True",
            env.task, seed, quality.name.lower(), redraws,
        )  # fmt: skip
    return ep


def _rollout(
    env: MetaWorldEnv, seed: int, quality: Quality, params: CorruptionParams, rng: np.random.Generator
) -> Episode:
    ctrl = _Controller(quality, params, rng)
    oracle = OracleProgress(env, reach_weight=params.reach_weight)
    obs = env.reset(seed)
    p = oracle.reset()
    states, env_states, actions, progress, images = [], [], [], [], []
    success_step: int | None = None
    best, best_t = p, 0
    img_key = env.image_key
    for t in range(env.max_steps):
        if success_step is None and p >= 1.0:
            success_step = t
        if success_step is not None and t - success_step >= params.post_success_steps:
            break
        a = ctrl.act(t, env, p)
        states.append(obs["observation.state"])
        env_states.append(obs["observation.environment_state"])
        if img_key is not None:
            images.append(obs[img_key])
        actions.append(a)
        progress.append(p)
        if p > best + 0.01:
            best, best_t = p, t
        if ctrl.done or t - best_t >= params.stall_steps:
            break
        obs = env.step(a).obs
        p = oracle()
    return Episode(
        task=env.task,
        instruction=env.instruction,
        seed=int(seed),
        quality=quality,
        state=np.stack(states).astype(np.float32),
        env_state=np.stack(env_states).astype(np.float32),
        action=np.stack(actions).astype(np.float32).reshape(-1, ACTION_DIM),
        progress=np.asarray(progress, dtype=np.float32),
        images=np.stack(images) if images else None,
        success=success_step is not None,
        success_step=success_step,
        events=ctrl.events,
    )
