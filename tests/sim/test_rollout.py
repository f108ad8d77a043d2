"""Batched rollouts: replaying a clean demo's actions succeeds (the sim is deterministic per seed); idling does not."""

import numpy as np
import pytest

from rabc.sim.demos import run_episode
from rabc.sim.env import MetaWorldEnv
from rabc.sim.rollout import noisy_expert, rollout_task

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


def test_worker_processes_give_the_serial_results():
    """The same seeds give the same successes, step counts and video frames with 2 worker processes as in one
    process, including a last batch smaller than the others (5 seeds in batches of 2)."""
    task, seeds = "button-press-topdown-v3", [11, 12, 13, 14, 15]
    kw = dict(
        batch_size=2, max_steps=60, camera="corner", image_size=32, record_videos=3, show_progress=False
    )
    serial = rollout_task(*noisy_expert(task), task, seeds, **kw)
    parallel = rollout_task(*noisy_expert(task), task, seeds, num_workers=2, **kw)
    assert serial.success.tolist() == parallel.success.tolist()
    assert serial.steps.tolist() == parallel.steps.tolist()
    assert 0 < serial.success.sum() < len(seeds) or serial.steps.min() < 60  # outcomes depend on the policy
    assert len(serial.videos) == len(parallel.videos) == 3
    for a, b in zip(serial.videos, parallel.videos):
        np.testing.assert_array_equal(a, b)


def _recording(task):
    """noisy_expert(task) whose act also keeps every batch's environment state (object and goal positions)."""
    act, reset = noisy_expert(task)
    seen: list[np.ndarray] = []

    def rec(batch):
        seen.append(batch["observation.environment_state"].copy())
        return act(batch)

    return rec, reset, seen


def test_worker_pool_switches_tasks_and_gives_the_serial_results():
    """One RolloutWorkers for two tasks (the evaluation's use): each task's observations and outcomes equal the
    serial path's."""
    from rabc.sim.rollout import RolloutWorkers

    tasks, seeds = ["button-press-topdown-v3", "push-v3"], [21, 22, 23]
    kw = dict(batch_size=2, max_steps=40, show_progress=False)
    with RolloutWorkers(tasks[0], 2, 2, camera=None, image_size=32) as pool:
        pooled = []
        for t in tasks:
            act, reset, seen = _recording(t)
            pooled.append((rollout_task(act, reset, t, seeds, workers=pool, **kw), seen))
        assert pool.task == tasks[1]
    for task, (got, got_obs) in zip(tasks, pooled):
        act, reset, seen = _recording(task)
        serial = rollout_task(act, reset, task, seeds, **kw)
        assert got.task == task
        assert serial.success.tolist() == got.success.tolist()
        assert serial.steps.tolist() == got.steps.tolist()
        assert len(seen) == len(got_obs)
        for a, b in zip(seen, got_obs):
            np.testing.assert_array_equal(a, b)
