"""Confidence intervals against textbook values and exact small cases."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.metrics import bootstrap_ci, mean_t_ci, success_auc, wilson_interval


def test_wilson_interval_textbook_values():
    p, lo, hi = wilson_interval(8, 10)
    assert p == 0.8 and lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    p, lo, hi = wilson_interval(0, 10)
    assert (p, lo) == (0.0, 0.0) and hi == pytest.approx(0.2775, abs=1e-4)
    p, lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(1 - 0.2775, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_mean_t_ci_by_hand():
    m, h = mean_t_ci([1.0, 2.0, 3.0])  # sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.302653
    assert m == 2.0 and h == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    m, h = mean_t_ci([0.7])
    assert m == 0.7 and np.isnan(h)


def test_bootstrap_exact_small_case_and_seeding():
    # resampled means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 → 2.5 % / 97.5 % are 0 and 1
    est, lo, hi = bootstrap_ci(np.array([0.0, 1.0]), n_boot=4000, seed=1)
    assert (est, lo, hi) == (0.5, 0.0, 1.0)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)
    x = np.random.default_rng(0).normal(size=200)
    a = bootstrap_ci(x, seed=7)
    assert a == bootstrap_ci(x, seed=7) and a != bootstrap_ci(x, seed=8)
    # the percentile interval of a mean is close to the normal one: ±1.96 σ/√n
    assert a[2] - a[1] == pytest.approx(2 * 1.96 * x.std() / np.sqrt(200), rel=0.1)
    assert a[1] < x.mean() < a[2]


def test_bootstrap_joint_resampling_for_auc():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 2 == 0
    scores = labels + rng.normal(0, 1.0, 60)
    est, lo, hi = bootstrap_ci((scores, labels), success_auc, n_boot=300, seed=0)
    assert est == success_auc(scores, labels) and 0.5 < lo < est < hi <= 1.0
    with pytest.raises(ValueError, match="equal length"):
        bootstrap_ci((scores, labels[:-1]), success_auc)


def test_bootstrap_aggregate_resamples_episodes_within_datasets():
    from rabc.metrics import aggregate_voc, bootstrap_aggregate_ci

    # a dataset of identical episodes has no sampling spread: only "b" varies. b's resampled means of [0, 1]
    # are 0 / 0.5 / 1 (1/4, 1/2, 1/4), so the score (0.5 + b) / 2 has 2.5 / 97.5 % percentiles 0.25 and 0.75
    per = {"a": [0.5, 0.5, 0.5], "b": [0.0, 1.0, np.nan]}
    est, lo, hi = bootstrap_aggregate_ci(per, n_boot=4000, seed=3)
    assert est == aggregate_voc(per)[0] == 0.5
    assert (lo, hi) == (0.25, 0.75)
    assert bootstrap_aggregate_ci(per, seed=3) == bootstrap_aggregate_ci(per, seed=3)
    with pytest.raises(ValueError, match="no finite values"):
        bootstrap_aggregate_ci({"a": [np.nan]})
