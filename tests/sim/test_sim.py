"""Meta-World env factory, oracle progress and demo corruptions (real MuJoCo, headless)."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.sim import MetaWorldEnv, Quality, run_episode
from rabc.types import OBS_ENV_STATE, OBS_STATE

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def push_env():
    with MetaWorldEnv("push-v3", camera="corner", image_size=48) as env:
        yield env


def test_env_observations_and_limits(push_env):
    obs = push_env.reset(3)
    assert obs[OBS_STATE].shape == (4,) and obs[OBS_ENV_STATE].shape == (17,)
    img = obs["observation.images.corner"]
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8 and img.std() > 5
    assert push_env.max_steps == push_env.unwrapped.max_path_length
    assert push_env.instruction == "push the puck to the goal"
    np.testing.assert_allclose(obs[OBS_ENV_STATE][-3:], push_env.unwrapped._target_pos, atol=1e-6)


def test_seeds_deterministic_and_distinct(push_env):
    a = push_env.reset(11)[OBS_ENV_STATE]
    b = push_env.reset(12)[OBS_ENV_STATE]
    c = push_env.reset(11)[OBS_ENV_STATE]
    np.testing.assert_array_equal(a, c)
    assert not np.allclose(a, b)


def test_second_env_keeps_frames_alive():
    """A closed (and collected) env must not blank a live env's frames."""
    live = MetaWorldEnv("push-v3", image_size=32)
    live.reset(0)
    before = live.render()
    other = MetaWorldEnv("drawer-open-v3", image_size=32)
    other.reset(0)
    other.close()
    del other
    import gc

    gc.collect()
    after = live.render()
    live.close()
    assert after.std() > 5
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("task", ["push-v3", "drawer-open-v3", "window-open-v3"])
def test_oracle_monotone_for_clean_expert_and_one_at_success(task):
    with MetaWorldEnv(task, camera=None) as env:
        for seed in range(3):
            ep = run_episode(env, seed, Quality.CLEAN)
            p = ep.progress
            assert ep.success and p.min() >= 0 and p.max() <= 1
            assert p[0] < 0.05
            assert np.max(np.maximum.accumulate(p) - p) < 0.02
            assert np.all(p[ep.success_step :] == 1.0) and np.all(p[: ep.success_step] < 1.0)


def test_episode_deterministic():
    with MetaWorldEnv("pick-place-v3", image_size=24) as env:
        a = run_episode(env, 5, Quality.DETOUR)
        b = run_episode(env, 5, Quality.DETOUR)
    for x, y in [(a.state, b.state), (a.action, b.action), (a.progress, b.progress), (a.images, b.images)]:
        np.testing.assert_array_equal(x, y)


def _progress_before(ep, t):
    """Mean progress over frames [0, t), an early-ending episode holding its last value."""
    p = np.pad(ep.progress, (0, max(0, t - len(ep))), mode="edge")[:t]
    return float(p.mean())


@pytest.mark.parametrize("task", ["push-v3", "pick-place-v3"])
def test_each_corruption_hurts_against_clean(task):
    """Same seed: hesitation, detours and failures never reach success by the clean expert's success frame (or
    fail); action noise is the weak corruption (it barely hurts BC either): it lowers progress on average."""
    noise_gap = []
    with MetaWorldEnv(task, camera=None) as env:
        for seed in range(4):
            clean = run_episode(env, seed, Quality.CLEAN)
            t = clean.success_step
            for q in (Quality.HESITATE, Quality.DETOUR, Quality.FAIL):
                ep = run_episode(env, seed, q)
                assert not ep.success or ep.success_step > t, (task, seed, q.name)
                assert _progress_before(ep, t) < _progress_before(clean, t), (task, seed, q.name)
            fail = run_episode(env, seed, Quality.FAIL)
            assert not fail.success and fail.progress.max() < 1.0
            noisy = run_episode(env, seed, Quality.NOISE)
            noise_gap.append(_progress_before(clean, t) - _progress_before(noisy, t))
    assert np.mean(noise_gap) > 0, noise_gap


def test_detour_regresses_progress():
    with MetaWorldEnv("pick-place-v3", camera=None) as env:
        ep = run_episode(env, 0, Quality.DETOUR)
    start, n = ep.events["detour"]
    p = ep.progress
    assert p[start + n] < p[start] - 0.05  # moved away from the goal: progress went down


@pytest.mark.parametrize("task", ["push-v3", "drawer-open-v3"])
def test_wrong_target_and_push_away_end_unfinished_with_falling_progress(task):
    """The two corruptions that teach a wrong motion end unsuccessful after the spoiled stretch, short of the goal;
    pushing away never gains progress (a wrong target may drag a grasped handle part of the way: the oracle
    says so honestly)."""
    from rabc.sim.demos import CorruptionParams

    with MetaWorldEnv(task, camera=None) as env:
        for q in (Quality.WRONG_TARGET, Quality.PUSH_AWAY):
            for seed in (1, 2):
                ep = run_episode(env, seed, q, CorruptionParams(spoil_steps=40))
                start, length = ep.events["spoiled"]
                assert not ep.success and len(ep) == start + length
                p = ep.progress
                assert p[-1] < 0.9
                if q == Quality.PUSH_AWAY:
                    assert p[-1] <= p[start] + 0.02


def test_long_give_up_holds_still_for_the_whole_tail():
    from rabc.sim.demos import CorruptionParams

    with MetaWorldEnv("push-v3", camera=None) as env:
        ep = run_episode(env, 3, Quality.FAIL, CorruptionParams(fail_tail_steps=120, fail_modes=("stop",)))
    t0 = ep.events["fail_at"]
    assert ep.events["fail_mode"] == "stop" and not ep.success and len(ep) - t0 == 120
    tail = ep.state[t0 + 10 :, :3]  # the hand stays where it gave up
    assert np.abs(tail - tail[0]).max() < 0.02
    assert np.ptp(ep.progress[t0 + 10 :]) < 0.02  # progress is flat: a plateau below 1
    with pytest.raises(ValueError, match="fail_modes"):
        run_episode(env, 3, Quality.FAIL, CorruptionParams(fail_modes=("sleep",)))


@pytest.mark.parametrize(
    ("task", "seed", "quality"),
    [("drawer-open-v3", 20, Quality.FAIL), ("window-open-v3", 5, Quality.WRONG_TARGET)],
)
def test_a_corruption_that_reaches_success_is_redrawn(task, seed, quality, caplog):
    """On these layouts the first draw's retreat drags the drawer open / the way to the decoy slides the window
    open: that demo is redrawn until it ends unfinished, and the redraw is recorded."""
    from rabc.sim.demos import CorruptionParams

    harmful = dict(fail_tail_steps=150, trigger_range=(0.1, 0.4), spoil_steps=80)
    with MetaWorldEnv(task, camera=None) as env:
        with caplog.at_level("WARNING", logger="rabc.sim.demos"):
            first = run_episode(env, seed, quality, CorruptionParams(**harmful, max_redraws=0))
        assert first.success and "reached success" in caplog.text  # never silent
        ep = run_episode(env, seed, quality, CorruptionParams(**harmful))
    assert not ep.success and ep.events["redraws"] >= 1
    assert ep.progress.max() < 1.0
