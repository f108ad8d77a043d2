"""Oracle progress from simulator state (the ground truth a VLM scorer is compared against).

Definition, per episode (all distances in metres, read from the simulator):

    D_t = info["obj_to_target"]            the task's own object-to-goal error (metaworld ``evaluate_state``)
    R_t = ‖tcp_t − obj_t‖                  gripper centre to the task object (obs[4:7]: puck, handle, button, ...)
    task_t  = clip((D_0 − D_t) / (D_0 − ε), 0, 1)      ε = the task's success distance (TaskSpec)
    a_t     = clip((R_0 − R_t) / (R_0 − c), 0, 1)      c = the task's contact radius (TaskSpec); 1 if R_0 ≤ c
    reach_t = max(a_0..a_t) until the first contact (a = 1), a_t afterwards
    p_t = 1                                   if the simulator reports success for state t
    p_t = min(w·reach_t + (1 − w)·task_t, 1 − 1e-3)   otherwise,  w = reach_weight (default 0.3)

The approach credits the closest approach so far because the experts' approach paths curve (around a window
frame, over a drawer); after the first contact the hand has to stay at the object, so leaving it costs progress.
So p ∈ [0, 1], p = 1.0 exactly at success (task_t reaches 1 exactly when D_t ≤ ε), the reach term gives credit
for approaching the object before it moves, and moving the object (or the hand) away from the goal lowers p —
a detour shows up as a dip, a stop-halfway failure as a plateau below 1. Normalising by the episode's own
initial distances makes episodes with different layouts comparable. For the clean scripted expert p is
monotone up to simulator jitter (tests/sim check the largest drop stays below 0.02).
"""

from __future__ import annotations

import numpy as np

from rabc.sim.env import MetaWorldEnv

_EPS = 1e-6


class OracleProgress:
    """Stateful per-episode oracle: call :meth:`reset` right after ``env.reset``, then :meth:`__call__` per state."""

    def __init__(self, env: MetaWorldEnv, reach_weight: float = 0.3) -> None:
        if not 0.0 <= reach_weight < 1.0:
            raise ValueError(f"reach_weight must be in [0, 1), got {reach_weight}")
        self.env, self.reach_weight = env, float(reach_weight)
        self._d0: float | None = None
        self._r0: float | None = None
        self._best_reach = 0.0
        self._contact = False

    def _distances(self) -> tuple[float, float, bool]:
        info = self.env.evaluate()
        raw = self.env.raw_obs
        assert raw is not None
        reach = float(np.linalg.norm(self.env.tcp_center - raw[4:7]))
        return float(info["obj_to_target"]), reach, bool(info["success"])

    def reset(self) -> float:
        """Record the initial distances of the episode; returns p_0."""
        d0, r0, _ = self._distances()
        self._d0, self._r0 = d0, r0
        self._best_reach, self._contact = 0.0, False
        return self()

    def __call__(self) -> float:
        """Oracle progress p_t of the env's current state."""
        if self._d0 is None or self._r0 is None:
            raise RuntimeError("OracleProgress.reset() must be called after env.reset()")
        d, r, success = self._distances()
        if success:
            return 1.0
        eps = self.env.spec.success_distance
        task = np.clip((self._d0 - d) / max(self._d0 - eps, _EPS), 0.0, 1.0)
        c = self.env.spec.contact_radius
        approach = 1.0 if self._r0 <= c else float(np.clip((self._r0 - r) / (self._r0 - c), 0.0, 1.0))
        if self._contact:
            reach = approach
        else:
            self._best_reach = reach = max(self._best_reach, approach)
            self._contact = approach >= 1.0
        return float(min(self.reach_weight * reach + (1.0 - self.reach_weight) * task, 1.0 - 1e-3))
