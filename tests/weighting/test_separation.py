"""Separation report and segment labels on constructed inputs; automatic temperature; clean-only BC."""

import numpy as np
import pytest

from rabc.io import RabcFileError
from rabc.progress import ProgressTable
from rabc.weighting import (
    Episode,
    EpisodeInfo,
    TopAWR,
    effective_sample_size,
    segment_labels,
    separation_report,
)


def _episodes():
    # episode 0: clean, success at frame 8 of 10; episode 1: fail at 4 (tail 4..9); episode 2: detour [2, 3)
    # then recovery; episode 3: wrong target from frame 5
    return [
        {"episode_index": 0, "length": 10, "quality_name": "clean", "success_step": 8, "events": {}},
        {
            "episode_index": 1,
            "length": 10,
            "quality_name": "fail",
            "success_step": None,
            "events": {"fail_at": 4, "fail_mode": "stop"},
        },
        {
            "episode_index": 2,
            "length": 10,
            "quality_name": "detour",
            "success_step": None,
            "events": {"detour": [2, 3]},
        },
        {
            "episode_index": 3,
            "length": 10,
            "quality_name": "wrong_target",
            "success_step": None,
            "events": {"spoiled": [5, 5], "fail_at": 5},
        },
    ]


def test_segment_labels_by_hand():
    ep = np.repeat(np.arange(4), 10)
    p = np.tile(np.linspace(0, 0.9, 10), 4)
    p[20:30] = [0.0, 0.1, 0.2, 0.1, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]  # detour dips, back at 0.2 by frame 7
    seg, cls = segment_labels(ep, p, _episodes())
    assert list(seg[:10]) == ["good"] * 8 + ["post_succ"] * 2
    assert list(seg[10:20]) == ["good"] * 4 + ["fail_tail"] * 6
    assert list(seg[20:30]) == ["good"] * 2 + ["detour"] * 3 + ["recovery"] * 2 + ["good"] * 3
    assert list(seg[30:40]) == ["good"] * 5 + ["spoiled"] * 5
    assert list(cls[10:12]) == ["fail", "fail"] and cls[35] == "wrong_target"
    with pytest.raises(RabcFileError, match="length"):
        segment_labels(ep[:-1], p[:-1], _episodes())


def test_separation_report_on_constructed_weights():
    seg = np.array(["good"] * 6 + ["fail_tail"] * 4)
    cls = np.array(["clean"] * 4 + ["fail"] * 6)
    w = np.array([2.0, 2, 2, 2, 1, 1, 0.5, 0.5, 0.5, 0.5])
    rep = separation_report(w, seg, cls, max_weight=2.0)
    assert rep["auc"] == 1.0  # every bad frame below every good one
    assert rep["bad_weight_fraction"] == pytest.approx(2.0 / 12.0)
    assert rep["bad_over_clean"] == pytest.approx(0.25)
    assert rep["ess_fraction"] == pytest.approx(effective_sample_size(w) / 10)
    assert rep["by_class"]["clean"] == pytest.approx(2.0 / 1.2)
    assert rep["good_low_fraction"] == 0.0 and rep["frames"]["fail_tail"] == 4
    assert separation_report(np.ones(10), seg, cls)["auc"] == 0.5  # uniform weights: no separation


def test_phase_coverage_finds_a_starved_phase_of_clean_demos():
    """Good separation can still drop a phase every clean demo goes through; phase coverage names it."""
    seg = np.array(["good"] * 6 + ["fail_tail"] * 2)
    cls = np.array(["clean"] * 6 + ["fail"] * 2)
    phases = np.array(["t 1/10", "t 1/10", "t 2/10", "t 2/10", "t 3/10", ""] + ["t 1/10"] * 2)
    w = np.array([2.0, 2, 0.1, 0.1, 2, 0, 0, 0])  # the held-out frame ("") is left out
    rep = separation_report(w, seg, cls, phases=phases)
    assert rep["auc"] > 0.9 and rep["weakest_phase"] == "t 2/10"
    assert rep["phase_coverage"] == pytest.approx(0.1 / (6.2 / 5))
    assert separation_report(np.ones(8), seg, cls, phases=phases)["phase_coverage"] == 1.0
    assert "phase_coverage" not in separation_report(w, seg, cls)


def _table(n_eps=6, length=40):
    rng = np.random.default_rng(0)
    p = np.concatenate([np.cumsum(rng.random(length)) / length * (1 if e % 2 else 0.3) for e in range(n_eps)])
    ep = np.repeat(np.arange(n_eps), length)
    return ProgressTable(np.arange(len(p)), ep, np.tile(np.arange(length), n_eps), p)


@pytest.mark.parametrize("target", [0.5, 0.8])
def test_auto_temperature_hits_target_ess(target):
    t = _table()
    r = TopAWR(temperature="auto", target_ess=target, horizon_s=0.1, direction="forward")(t, 80.0)
    assert effective_sample_size(r.weight) / len(r.weight) == pytest.approx(target, abs=1e-3)
    # the same temperature given by hand gives the same weights
    fixed = TopAWR(temperature=r.info["temperature_value"], horizon_s=0.1, direction="forward")(t, 80.0)
    np.testing.assert_allclose(fixed.weight, r.weight)
    with pytest.raises(ValueError, match="target_ess"):
        TopAWR(temperature="auto", target_ess=0.0)


def test_clean_only_and_success_only_need_their_labels():
    t = _table(n_eps=3, length=5)
    info = EpisodeInfo(np.arange(3), np.array([True, True, False]), np.array(["clean", "noise", "fail"]))
    w = Episode(source="clean")(t, 10.0, info).weight
    np.testing.assert_array_equal(w, np.repeat([1.0, 0.0, 0.0], 5))
    w = Episode(source="success")(t, 10.0, info).weight
    np.testing.assert_array_equal(w, np.repeat([1.0, 1.0, 0.0], 5))
    with pytest.raises(ValueError, match="no 'quality' column"):
        Episode(source="clean")(t, 10.0, EpisodeInfo(np.arange(3), np.array([True, True, False])))
    with pytest.raises(ValueError, match="no 'success' column"):
        Episode(source="success")(t, 10.0, EpisodeInfo(np.arange(3)))
