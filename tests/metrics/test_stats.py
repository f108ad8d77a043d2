"""Confidence intervals against textbook values and exact small cases."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.metrics import (
    binomial_ci,
    bootstrap_ci,
    compare_to_baseline,
    hierarchical_bootstrap,
    success_auc,
    verdict,
    wilson_interval,
)


def test_wilson_interval_textbook_values():
    p, lo, hi = wilson_interval(8, 10)
    assert p == 0.8 and lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    p, lo, hi = wilson_interval(0, 10)
    assert (p, lo) == (0.0, 0.0) and hi == pytest.approx(0.2775, abs=1e-4)
    p, lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(1 - 0.2775, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_binomial_ci_is_scipy_and_stays_in_unit_interval():
    # Clopper-Pearson for 0/10: upper = 1 - 0.025**(1/10) = 0.30850
    p, lo, hi = binomial_ci(0, 10, method="exact")
    assert (p, lo) == (0.0, 0.0) and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-5)
    for k in range(0, 6):
        _, lo, hi = binomial_ci(k, 5)
        assert 0.0 <= lo <= k / 5 <= hi <= 1.0


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
    from rabc.metrics import bootstrap_aggregate_ci

    # a dataset of identical episodes has no sampling spread: only "b" varies. b's resampled means of [0, 1]
    # are 0 / 0.5 / 1 (1/4, 1/2, 1/4), so the score (0.5 + b) / 2 has 2.5 / 97.5 % percentiles 0.25 and 0.75
    per = {"a": [0.5, 0.5, 0.5], "b": [0.0, 1.0, np.nan]}
    est, lo, hi = bootstrap_aggregate_ci(per, n_boot=4000, seed=3)
    assert est == 0.5  # mean over each dataset's finite episodes, then over datasets
    assert (lo, hi) == (0.25, 0.75)
    assert bootstrap_aggregate_ci(per, seed=3) == bootstrap_aggregate_ci(per, seed=3)
    with pytest.raises(ValueError, match="no finite values"):
        bootstrap_aggregate_ci({"a": [np.nan]})


def test_hierarchical_bootstrap_is_paired_and_resamples_two_levels():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, size=(4, 30)).astype(float)
    x = np.stack([a, a])  # two identical recipes: every resample gives them the same mean (paired draws)
    boot = hierarchical_bootstrap(x, n_boot=500, seed=1)
    assert boot.shape == (500, 2) and np.array_equal(boot[:, 0], boot[:, 1])
    # one seed, constant episodes: no spread at all; seeds that differ: spread from the seed level
    assert np.ptp(hierarchical_bootstrap(np.ones((1, 1, 8)), n_boot=50)) == 0
    two = np.stack([np.zeros(10), np.ones(10)])[None]  # (1, 2 seeds, 10 episodes): seed means 0 and 1
    b = hierarchical_bootstrap(two, n_boot=2000, seed=0)[:, 0]
    assert set(np.round(np.unique(b), 6)) <= {0.0, 0.5, 1.0} and 0.4 < (b == 0.5).mean() < 0.6
    with pytest.raises(ValueError, match="NaN"):
        hierarchical_bootstrap(np.full((1, 2, 3), np.nan))


def test_verdict_never_better_when_interval_crosses_zero():
    assert verdict([0.01, 0.3], 5) == "better"
    assert verdict([-0.3, -0.01], 5) == "worse"
    assert verdict([-0.01, 0.5], 5) == "no detectable difference"
    assert verdict([0.1, 0.2], 1) == "n/a (1 seed)"


def test_compare_to_baseline_headroom_and_recovered_fraction():
    rng = np.random.default_rng(3)
    s, e = 5, 60
    uniform = (rng.random((s, e)) < 0.2).astype(float)
    upper = (rng.random((s, e)) < 0.8).astype(float)
    scheme = (rng.random((s, e)) < 0.5).astype(float)
    same = uniform.copy()
    rows, head = compare_to_baseline(np.stack([uniform, scheme, upper, same]), 0, [2], n_boot=2000)
    assert head["upper_row"] == 2 and head["has_headroom"] and head["ci"][0] > 0
    assert head["value"] == pytest.approx(upper.mean() - uniform.mean())
    assert rows[1].verdict == "better" and rows[1].delta_ci[0] > 0
    assert rows[1].recovered == pytest.approx((scheme.mean() - uniform.mean()) / head["value"])
    assert rows[1].recovered_ci[0] < rows[1].recovered < rows[1].recovered_ci[1]
    # an identical copy of the baseline: Δ exactly 0 in every paired resample
    assert (
        rows[3].delta == 0
        and rows[3].delta_ci == [0.0, 0.0]
        and rows[3].verdict == "no detectable difference"
    )
    assert all(0 <= r.ci[0] <= r.success <= r.ci[1] <= 1 for r in rows)
    # one seed: no interval, no verdict
    rows1, head1 = compare_to_baseline(np.stack([uniform, scheme, upper])[:, :1], 0, [2])
    assert rows1[1].ci is None and rows1[1].verdict == "n/a (1 seed)" and head1["ci"] is None
    assert not head1["has_headroom"]


def test_no_headroom_when_upper_row_is_no_better():
    rng = np.random.default_rng(4)
    x = (rng.random((3, 5, 40)) < 0.5).astype(float)
    rows, head = compare_to_baseline(x, 0, [2], n_boot=1000)
    assert head["ci"][0] <= 0 and not head["has_headroom"]
    assert rows[1].recovered_ci is None
