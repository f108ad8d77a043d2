"""VOC, its aggregation, success detection and the static-frame check, against answers computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.metrics import (
    bootstrap_aggregate_ci,
    static_frame_voc,
    success_auc,
    success_score,
    voc,
    voc_per_episode,
)


def test_voc_by_hand():
    assert voc([1, 2, 3, 4]) == pytest.approx(1.0)
    assert voc([4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks [1, 3, 2] vs [1, 2, 3]: d = [0, 1, -1], 1 - 6·2 / (3·8) = 0.5
    assert voc([0.1, 0.9, 0.5]) == pytest.approx(0.5)
    # ties get average ranks [1.5, 1.5, 3]: centred (-.5, -.5, 1)·(-1, 0, 1) / sqrt(1.5 · 2) = 1.5 / sqrt(3)
    assert voc([1.0, 1.0, 2.0]) == pytest.approx(1.5 / np.sqrt(3))
    # any monotone transform gives the same VOC (rank correlation)
    s = np.array([0.3, 0.1, 0.7, 0.6, 0.9])
    assert voc(s) == pytest.approx(voc(np.exp(5 * s)))


def test_voc_constant_predictions():
    assert np.isnan(voc([0.5, 0.5, 0.5]))
    assert voc([0.5, 0.5, 0.5], constant="zero") == 0.0
    assert np.isnan(voc([0.2]))
    with pytest.raises(ValueError, match="NaN or inf"):
        voc([0.1, np.nan])
    with pytest.raises(ValueError, match="constant"):
        voc([1, 2], constant="skip")
    per = voc_per_episode([[1, 2, 3], [3, 2, 1], [1, 1]], constant="zero")
    np.testing.assert_allclose(per, [1, -1, 0])


def test_benchmark_score_mean_over_episodes_then_datasets():
    overall, _, _ = bootstrap_aggregate_ci({"a": [1.0, 0.5, np.nan], "b": [0.0], "c": [np.nan]}, n_boot=10)
    assert overall == pytest.approx(0.375)  # unweighted over datasets: a has 2 valid episodes, b 1; c none


def test_success_score_and_auc():
    assert success_score([-5.0, -4.0, -3.0, -2.0, -1.0]) == pytest.approx(-2.0)
    assert success_score([-5.0, -1.0]) == pytest.approx(-3.0)  # fewer than 3 prefixes: all of them
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 3 of 4 pairs ordered correctly
    assert success_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="both successful and failed"):
        success_auc([0.1, 0.2], [True, True])


def test_static_frame_voc_detects_length_bias():
    frame = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    seen = {}

    def length_biased(video):  # score grows with the prefix length only
        seen["shape"] = video.shape
        lengths = sorted(set(np.linspace(1, len(video), min(15, len(video))).astype(int)))
        return np.log(np.asarray(lengths, dtype=float))

    def content_only(video):  # score depends on what the prefix shows: a static video is constant
        lengths = sorted(set(np.linspace(1, len(video), min(15, len(video))).astype(int)))
        return np.array([video[:n].mean() for n in lengths])

    assert static_frame_voc(length_biased, frame, 32) == pytest.approx(1.0)
    assert seen["shape"] == (32, 8, 8, 3)
    assert np.isnan(static_frame_voc(content_only, frame, 32))
    assert static_frame_voc(content_only, frame, 32, constant="zero") == 0.0
    with pytest.raises(ValueError, match="first_frame"):
        static_frame_voc(content_only, frame[0], 4)


def test_rise_share_by_hand():
    from rabc.metrics import rise_share

    p = np.array([0.0, 0.2, 0.2, 0.6, 0.5, 1.0])  # increments into frames 1..5: .2, 0, .4, -.1, .5 → rise 1.1
    idle = np.array([False, False, False, True, True, False])
    assert rise_share(p, idle) == pytest.approx(0.4 / 1.1)  # frame 3's +0.4; frame 4's fall counts as 0
    assert np.isnan(rise_share(np.ones(4), np.ones(4, dtype=bool)))
    with pytest.raises(ValueError, match="must both be"):
        rise_share(p, idle[:-1])


def test_scorer_quality_table_separates_a_source_that_rises_while_idle():
    from rabc.metrics import EpisodeCurves, quality_markdown, scorer_quality_table

    t = np.linspace(0.0, 1.0, 40)
    idle = np.zeros(40, dtype=bool)
    idle[16:25] = True  # frames 16..24: the oracle is flat here, a length-biased source keeps rising
    oracle_p = np.interp(np.arange(40), [0, 15, 24, 39], [0.0, 0.5, 0.5, 1.0])
    oracle, biased = [], []
    for i in range(6):
        ok = i % 2 == 0
        end = 1.0 if ok else 0.4  # failed episodes stop early in the oracle's view
        oracle.append(EpisodeCurves(oracle_p * end, oracle_p[::5] * end, ok, idle, np.zeros(8), 1.0))
        # the still clip rises exactly as much as the real clip's anchors
        biased.append(EpisodeCurves(t, t[::5], ok, idle, t[::5], t[35] - t[0]))
    table = scorer_quality_table({"oracle": oracle, "biased": biased}, n_boot=50)
    # oracle: no rise inside the idle stretch; biased: its share = 9 of 39 equal steps (frames 16..24)
    assert table["oracle"]["idle_rise_share"][0] == pytest.approx(0.0)
    assert table["biased"]["idle_rise_share"][0] == pytest.approx(9 / 39)
    assert table["oracle"]["success_auc"][0] == 1.0 and table["biased"]["success_auc"][0] == 0.5
    assert table["biased"]["static_rise_ratio"][0] == pytest.approx(1.0)
    assert np.isnan(table["oracle"]["static_voc"][0])  # a constant still clip has no order: left out
    assert table["oracle"]["frame_auc"][0] > table["biased"]["frame_auc"][0]
    est, lo, hi = table["biased"]["voc"]  # strictly rising anchors
    assert est == pytest.approx(1.0) and lo <= est <= hi
    md = quality_markdown(table)
    assert md.count("\n") == 3 and "| biased |" in md
    with pytest.raises(ValueError, match="no progress sources"):
        scorer_quality_table({})


def test_within_task_success_auc_is_what_a_per_task_calibration_cannot_change():
    from rabc.metrics import EpisodeCurves, scorer_quality_table

    def ep(task: str, final: float, ok: bool) -> EpisodeCurves:
        p = np.linspace(0.0, final, 10)
        return EpisodeCurves(p, p[::3], ok, task=task)

    # task A scores on a low scale, task B on a high one; each orders its own episodes perfectly except one
    # failed B episode that ends above a successful one (1 of B's 4 pairs wrong)
    eps = [ep("A", 0.2, True), ep("A", 0.1, False), ep("B", 0.9, True), ep("B", 0.7, True),
           ep("B", 0.8, False), ep("B", 0.3, False)]  # fmt: skip
    table = scorer_quality_table({"raw": eps}, n_boot=20)
    assert table["raw"]["success_auc_within_task"][0] == pytest.approx(4 / 5)  # A: 1/1, B: 3/4 pairs right
    # pooled, the scales mix: A's success (0.2) lies below two of B's failures; 6 of 9 pairs right
    assert table["raw"]["success_auc"][0] == pytest.approx(6 / 9)
    # a per-task monotone map (A: failure -> -1, success -> 2) puts every cross-task pair right, never B's wrong
    # one: pooled AUC reaches the ceiling 1 - 1/9, the within-task figure stays
    mapped = {0.2: 2.0, 0.1: -1.0}
    cal = [
        ep(e.task, mapped.get(round(float(e.progress[-1]), 1), float(e.progress[-1])), bool(e.success))
        for e in eps
    ]
    again = scorer_quality_table({"calibrated": cal}, n_boot=20)["calibrated"]
    assert again["success_auc"][0] == pytest.approx(8 / 9)
    assert again["success_auc_within_task"][0] == pytest.approx(4 / 5)
    no_task = [EpisodeCurves(e.progress, e.anchors, e.success) for e in eps]
    assert np.isnan(scorer_quality_table({"x": no_task}, n_boot=5)["x"]["success_auc_within_task"][0])
