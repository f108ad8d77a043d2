"""Weighting schemes: known answers by hand and the invariants of ARCHITECTURE.md at the weighting level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate

from rabc.progress import ProgressTable
from rabc.weighting import (
    SCHEMES,
    Episode,
    EpisodeInfo,
    ExpAdv,
    FilteredBC,
    Sarm,
    TopAWR,
    TopK,
    Uniform,
    horizon_frames,
)
from tests.conftest import compose_config
from tests.weighting.synth import synth_progress

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def table(progress, episodes, start=0) -> ProgressTable:
    episodes = np.asarray(episodes)
    frame = np.concatenate([np.arange((episodes == e).sum()) for e in np.unique(episodes)])
    return ProgressTable(np.arange(len(episodes)) + start, episodes, frame, np.asarray(progress, np.float32))


def test_uniform_is_all_ones(progress_table):
    r = Uniform()(progress_table, 10.0)
    assert r.weight.dtype == np.float32 and np.all(r.weight == 1) and np.all(r.advantage == 0)
    np.testing.assert_array_equal(r.index, progress_table.index)


def test_top_awr_paper_exact_by_hand():
    # two episodes; one-frame backward increments, clamped at each episode start (first frame: 0)
    t = table([0.0, 0.5, 0.5, 1.0, 0.0, 0.25], [0, 0, 0, 0, 1, 1])
    d = np.array([0.0, 0.5, 0.0, 0.5, 0.0, 0.25])
    a = d - d.mean()  # TOPReward Eq. 3: mean-centred over the dataset
    r = TopAWR()(t, fps=10.0)
    np.testing.assert_allclose(r.advantage, a, rtol=1e-6)
    np.testing.assert_allclose(r.weight, np.clip(2 * np.exp(a), 0, 2), rtol=1e-6)
    assert r.info["horizon_frames"] == 1 and r.info["horizon_s"] == pytest.approx(0.1)


def test_horizon_in_seconds_converts_with_fps():
    assert horizon_frames(0.3, 10.0) == 3
    assert horizon_frames(0.3, 20.0) == 6
    assert horizon_frames(0.001, 10.0) == 1  # at least one frame
    assert horizon_frames(None, 50.0) == 1
    t = synth_progress([40, 25], seed=3)
    # the same horizon in frames gives the same weights at any fps
    r10 = TopAWR(horizon_s=0.5, temperature=0.1)(t, 10.0)
    r20 = TopAWR(horizon_s=0.25, temperature=0.1)(t, 20.0)
    np.testing.assert_array_equal(r10.weight, r20.weight)
    assert r10.info["horizon_frames"] == r20.info["horizon_frames"] == 5
    # backward increment over 5 frames, clamped at the episode start, never crossing episodes
    p = t.progress.astype(np.float64)
    pos = np.arange(len(p))
    start = np.where(pos < 40, 0, 40)
    d = p - p[np.maximum(pos - 5, start)]
    np.testing.assert_allclose(r10.advantage, (d - d.mean()) / 0.1, rtol=1e-5, atol=1e-5)


def test_forward_direction_clamps_at_episode_end():
    t = table([0.0, 0.1, 0.3, 0.6, 0.0, 0.5], [0, 0, 0, 0, 1, 1])
    r = ExpAdv(horizon_s=0.2, direction="forward", center=False)(t, 10.0)
    np.testing.assert_allclose(r.advantage, [0.3, 0.5, 0.3, 0.0, 0.5, 0.0], atol=1e-6)


def test_temperature_std_fraction_equals_explicit_float():
    t = synth_progress([50, 30, 20], seed=5)
    r = TopAWR(horizon_s=1.0, temperature="std/3")(t, 10.0)
    std = r.info["increment_std"]
    r2 = TopAWR(horizon_s=1.0, temperature=std / 3)(t, 10.0)
    np.testing.assert_array_equal(r.weight, r2.weight)
    assert r.info["temperature_value"] == pytest.approx(std / 3)


def test_tempered_weights_invariant_to_affine_progress_rescaling():
    t = synth_progress([50, 30, 20], seed=6)
    scaled = ProgressTable(t.index, t.episode_index, t.frame_index, 0.25 + 0.5 * t.progress)
    for scheme in (TopAWR(horizon_s=1.0, temperature="std/3"), ExpAdv(horizon_s=0.5, temperature="std")):
        np.testing.assert_allclose(scheme(t, 10.0).weight, scheme(scaled, 10.0).weight, rtol=1e-4)


def test_filtered_and_top_k():
    t = synth_progress([50, 30, 20], seed=7)
    f = FilteredBC(horizon_s=0.5)(t, 10.0)
    np.testing.assert_array_equal(f.weight, (f.advantage > 0).astype(np.float32))
    k = TopK(horizon_s=0.5, fraction=0.3)(t, 10.0)
    assert k.weight.sum() == np.ceil(0.3 * len(t))
    assert k.advantage[k.weight == 1].min() >= k.advantage[k.weight == 0].max()


def test_exp_adv_is_capped():
    t = table([0.0, 0.0, 1.0, 1.0], [0, 0, 0, 0])
    r = ExpAdv(temperature=0.01, max_weight=5.0)(t, 10.0)
    assert r.weight.max() == 5.0 and np.all(np.isfinite(r.weight))


def test_nan_policy_error_zero_interpolate():
    p = np.array([0.0, 0.2, np.nan, 0.6, 0.8, 0.0, 0.5, 1.0], np.float32)
    t = table(p, [0, 0, 0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="NaN.*episode 0.*nan_policy"):
        TopAWR()(t, 10.0)
    z = TopAWR(nan_policy="zero")(t, 10.0)
    # the NaN frame and the frame whose increment reaches back to it get weight 0 and NaN advantage
    assert z.weight[2] == 0 and z.weight[3] == 0 and np.isnan(z.advantage[[2, 3]]).all()
    assert z.info["nan_frames"] == 1 and z.info["invalid_frames"] == 2
    valid = np.array([True, True, False, False, True, True, True, True])
    d = np.array([0.0, 0.2, 0, 0, 0.2, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(z.advantage[valid], (d - d[valid].mean())[valid], atol=1e-6)  # stats skip NaN
    i = TopAWR(nan_policy="interpolate")(t, 10.0)
    filled = table(np.where(np.isnan(p), 0.4, p), [0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(i.weight, TopAWR()(filled, 10.0).weight, rtol=1e-6)


def test_interpolate_keeps_episodes_apart_and_extends_edges():
    p = np.array([np.nan, 0.5, 1.0, 0.0, np.nan, np.nan], np.float32)
    t = table(p, [0, 0, 0, 1, 1, 1])
    r = ExpAdv(nan_policy="interpolate", center=False)(t, 10.0)
    # ep 0: NaN before the first valid → 0.5; ep 1: NaN after the last valid → 0.0 (not pulled from ep 0)
    np.testing.assert_allclose(r.advantage, [0.0, 0.0, 0.5, 0.0, 0.0, 0.0], atol=1e-7)
    with pytest.raises(ValueError, match="episode 1 has no finite progress"):
        ExpAdv(nan_policy="interpolate")(table([0.0, 1.0, np.nan], [0, 0, 1]), 10.0)


def test_bad_tables_and_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="episode 0 is not contiguous"):
        TopAWR()(table([0, 0.1, 0.2, 0.3], [0, 1, 0, 1]), 10.0)
    gap = ProgressTable(np.array([0, 1, 3]), np.array([0, 0, 0]), np.array([0, 1, 2]), np.zeros(3))
    with pytest.raises(ValueError, match="gap in its global index between 1 and 3"):
        TopAWR()(gap, 10.0)
    with pytest.raises(ValueError, match="nan_policy"):
        TopAWR(nan_policy="ignore")
    with pytest.raises(ValueError, match="temperature"):
        TopAWR(temperature="sdt/3")
    with pytest.raises(ValueError, match="temperature"):
        ExpAdv(temperature=0.0)
    with pytest.raises(ValueError, match="fps"):
        TopAWR()(synth_progress([5]), 0.0)
    with pytest.raises(ValueError, match="fraction"):
        TopK(fraction=1.5)


def test_episode_scheme_success_and_final_progress():
    t = table([0.0, 1.0, 0.0, 0.3, 0.2, 0.0, 0.9], [3, 3, 5, 5, 5, 8, 8])
    info = EpisodeInfo(np.array([8, 3, 5]), np.array([True, True, False]))
    r = Episode(source="success", failure_weight=0.1)(t, 10.0, info)
    np.testing.assert_allclose(r.weight, [1, 1, 0.1, 0.1, 0.1, 1, 1])
    np.testing.assert_allclose(r.advantage[[0, 2]], [1 - 2 / 3, -2 / 3], rtol=1e-6)
    with pytest.raises(ValueError, match="success labels"):
        Episode(source="success")(t, 10.0)
    with pytest.raises(ValueError, match=r"no success label for episode\(s\) \[5\]"):
        Episode()(t, 10.0, EpisodeInfo(np.array([3, 8]), np.array([True, False])))
    f = Episode(source="final_progress", temperature=0.5)(t, 10.0)
    final = np.array([1.0, 0.2, 0.9])
    a = (final - final.mean()) / 0.5
    np.testing.assert_allclose(f.weight, np.repeat(np.exp(a), [2, 3, 2]), rtol=1e-6)


def test_every_weighting_config_instantiates_with_its_keys():
    files = sorted((CONFIGS / "weighting").glob("*.yaml"))
    assert {f.stem for f in files} >= {"uniform", "top_awr", "top_awr_tempered", "sarm", "exp_adv", "top_k"}
    t = synth_progress([30, 20], seed=2)
    for f in files:
        cfg = compose_config("compute_weights", [f"weighting={f.stem}", "progress=x", "out=y"])
        scheme = instantiate(cfg.weighting)
        assert scheme.name == f.stem and scheme.kind in SCHEMES
        keys = {k for k in cfg.weighting if k != "_target_"}
        assert keys == set(scheme.params())  # config keys == constructor arguments
        if scheme.kind != "episode":
            assert len(scheme(t, 10.0)) == len(t)
    paper = TopAWR()
    assert (paper.tau, paper.max_weight, paper.temperature, paper.horizon_s) == (2.0, 2.0, 1.0, None)


def test_sarm_weights_lie_in_unit_interval_with_hand_thresholds():
    # SARM Eq. 9: delta > kappa → 1, delta < 0 → 0
    t = table([0.0, 0.5, 0.4, 0.4, 0.0, 0.005], [0, 0, 0, 0, 1, 1])
    r = Sarm(horizon_s=0.1)(t, 10.0)
    assert r.weight[0] == 1.0 and r.weight[1] == 0.0  # +0.5, −0.1
    assert 0 <= r.weight[4] <= 1 and r.weight[3] == r.weight[5]  # δ=0.005 soft; clamped end frames δ=0


def test_scaling_tau_and_cap_scales_weights_only():
    # TOP-AWR weights scale with (τ, δ_max) together, so the normalised loss weights w / Σw are unchanged
    t = synth_progress([40, 30], seed=8)
    a = TopAWR(horizon_s=0.5, temperature="std/3")(t, 10.0)
    b = TopAWR(horizon_s=0.5, temperature="std/3", tau=6.0, max_weight=6.0)(t, 10.0)
    np.testing.assert_allclose(b.weight, 3 * a.weight, rtol=1e-6)
    np.testing.assert_allclose(b.weight / b.weight.sum(), a.weight / a.weight.sum(), rtol=1e-6)
    np.testing.assert_array_equal(a.advantage, b.advantage)


def test_global_index_offset_and_row_order_do_not_matter():
    t = synth_progress([40, 30, 20], seed=10)
    shifted = synth_progress([40, 30, 20], seed=10, start_index=10_000)
    perm = np.random.default_rng(0).permutation(len(t))
    shuffled = ProgressTable(t.index[perm], t.episode_index[perm], t.frame_index[perm], t.progress[perm])
    scheme = TopAWR(horizon_s=0.5, temperature="std/3")
    ref = scheme(t, 10.0)
    np.testing.assert_array_equal(scheme(shifted, 10.0).weight, ref.weight)
    got = scheme(shuffled, 10.0)  # ProgressTable sorts by global index
    np.testing.assert_array_equal(got.index, t.index)
    np.testing.assert_array_equal(got.weight, ref.weight)


def test_rescale_partial_removes_the_episode_boundary_bias():
    # a linear ramp: every full 4-frame increment is 4·0.1; clamped ones span k < 4 frames
    t = table(np.arange(10) * 0.1, np.zeros(10, int))
    clamp = ExpAdv(horizon_s=0.4, center=False)(t, 10.0)
    np.testing.assert_allclose(clamp.advantage, [0, 0.1, 0.2, 0.3] + [0.4] * 6, atol=1e-6)
    rescaled = ExpAdv(horizon_s=0.4, center=False, rescale_partial=True)(t, 10.0)
    np.testing.assert_allclose(rescaled.advantage, [0] + [0.4] * 9, atol=1e-6)
    fwd = ExpAdv(horizon_s=0.4, center=False, rescale_partial=True, direction="forward")(t, 10.0)
    np.testing.assert_allclose(fwd.advantage, [0.4] * 9 + [0], atol=1e-6)


@pytest.mark.parametrize(
    "scheme",
    [
        TopAWR(),
        TopAWR(temperature="std/3", horizon_s=0.2, direction="forward"),
        Sarm(),
        ExpAdv(),
        TopK(),
        FilteredBC(),
        Uniform(),
    ],  # fmt: skip
    ids=lambda s: type(s).__name__,
)
def test_one_frame_episodes_get_finite_weights(scheme):
    """An episode of a single frame has no increment inside it: every scheme still gives every frame a finite,
    non-negative weight (no NaN from an empty window)."""
    t = synth_progress([1, 5, 1, 7])
    r = scheme(t, 10.0)
    assert r.weight.shape == (14,) and np.all(np.isfinite(r.weight)) and np.all(r.weight >= 0)


def test_weight_cap_is_declared_not_probed():
    from rabc.weighting import Episode, Sarm, TopAWR, Uniform

    assert TopAWR(max_weight=3.0).weight_cap() == 3.0
    assert Episode(source="final_progress", max_weight=5.0).weight_cap() == 5.0
    assert Episode(source="success").weight_cap() == 1.0
    assert Uniform().weight_cap() is None and Sarm().weight_cap() is None
