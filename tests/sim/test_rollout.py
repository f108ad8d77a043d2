"""Batched rollouts: replaying a clean demo's actions succeeds (the sim is deterministic per seed); idling does not."""

import numpy as np
import pytest

from rabc.sim.demos import run_episode
from rabc.sim.env import MetaWorldEnv
from rabc.sim.rollout import rollout_task

pytestmark = pytest.mark.sim


def test_replayed_demo_succeeds_and_idle_policy_fails():
    task, seeds = "button-press-topdown-v3", [3, 4]
    with MetaWorldEnv(task, camera=None) as env:
        demos = [run_episode(env, s) for s in seeds]
    assert all(d.success for d in demos)
    t = {"step": 0}

    def replay(batch):
        k, t["step"] = t["step"], t["step"] + 1
        assert batch["observation.state"].shape == (2, 4)
        return np.stack([d.action[min(k, len(d) - 1)] for d in demos])

    def reset():
        t["step"] = 0

    out = rollout_task(
        replay,
        reset,
        task,
        seeds,
        batch_size=2,
        max_steps=max(len(d) for d in demos) + 5,
        show_progress=False,
    )
    assert out.success.all() and out.rate == 1.0
    assert np.all(out.steps <= np.array([d.success_step + 1 for d in demos]) + 1)

    idle = rollout_task(
        lambda b: np.zeros((len(b["observation.state"]), 4)),
        lambda: None,
        task,
        [5],
        max_steps=30,
        show_progress=False,
    )
    assert not idle.success.any() and idle.steps.tolist() == [30]
