"""Weight diagnostics: hand-computed ESS, quantiles, fractions, group means, warnings; the PNG histogram."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rabc.weighting import (
    effective_sample_size,
    format_diagnostics,
    plot_weight_histogram,
    weight_diagnostics,
)


def test_effective_sample_size_by_hand():
    assert effective_sample_size(np.ones(10)) == 10
    assert effective_sample_size(np.array([1.0, 1.0, 0.0, 0.0])) == 2
    assert effective_sample_size(np.array([3.0, 1.0])) == pytest.approx(16 / 10)
    assert effective_sample_size(np.zeros(3)) == 0


def test_diagnostics_known_values():
    w = np.array([0.0, 0.0, 1.0, 2.0, 2.0, 1.0])
    quality = np.array([0, 0, 1, 1, 2, 2])
    success = np.array([False, False, False, True, True, True])
    d = weight_diagnostics(w, max_weight=2.0, quality=quality, success=success)
    assert d["n"] == 6 and d["mean"] == 1.0
    assert d["zero_fraction"] == pytest.approx(2 / 6) and d["capped_fraction"] == pytest.approx(2 / 6)
    assert d["ess"] == pytest.approx(36 / 10) and d["ess_fraction"] == pytest.approx(0.6)
    assert d["quantiles"]["q50"] == 1.0 and d["quantiles"]["q00"] == 0 and d["quantiles"]["q100"] == 2
    assert d["by_quality"] == {
        "0": {"mean_weight": 0.0, "frames": 2},
        "1": {"mean_weight": 1.5, "frames": 2},
        "2": {"mean_weight": 1.5, "frames": 2},
    }
    assert d["by_success"]["True"]["mean_weight"] == pytest.approx(5 / 3)
    assert d["by_success"]["False"]["mean_weight"] == pytest.approx(1 / 3)
    assert d["warnings"] == []
    text = format_diagnostics(d)
    assert "ESS 3.6 (60.0%)" in text and "capped 33.3%" in text


def test_warnings_near_uniform_and_ess_collapse(caplog):
    with caplog.at_level(logging.WARNING):
        d = weight_diagnostics(np.full(100, 1.9) + np.linspace(0, 0.1, 100))
    assert any("near-uniform" in m for m in d["warnings"]) and "near-uniform" in caplog.text
    w = np.zeros(100)
    w[:5] = 1.0
    d = weight_diagnostics(w)
    assert d["ess_fraction"] == pytest.approx(0.05)
    assert any("effective sample size collapsed" in m for m in d["warnings"])
    assert any("every weight is zero" in m for m in weight_diagnostics(np.zeros(4))["warnings"])
    with pytest.raises(ValueError, match="quality has shape"):
        weight_diagnostics(np.ones(3), quality=np.ones(4))


def test_phase_coverage_warns_when_a_phase_of_a_task_is_practically_dropped(caplog):
    # two tasks x two halves; held-out frames ("") do not count
    phases = np.array(["a 1/2"] * 4 + ["a 2/2"] * 4 + ["b 1/2"] * 4 + ["b 2/2"] * 4 + [""] * 2)
    w = np.r_[np.full(4, 1.5), np.full(4, 0.02), np.ones(8), 0.0, 0.0]
    with caplog.at_level(logging.WARNING):
        d = weight_diagnostics(w, phases=phases)
    mean = w[:16].mean()  # (6 + 0.08 + 8) / 16
    assert d["phase_coverage"] == pytest.approx(0.02 / mean) and d["weakest_phase"] == "a 2/2"
    assert (
        any("phase 'a 2/2' keeps 0.02 x the mean weight" in m for m in d["warnings"])
        and "a 2/2" in caplog.text
    )
    assert "phase coverage 0.02 (a 2/2)" in format_diagnostics(d)
    w[4:8] = 0.5  # every phase keeps at least 0.5 / 0.875 of the mean: no warning
    d = weight_diagnostics(w, phases=phases)
    assert d["phase_coverage"] == pytest.approx(0.5 / w[:16].mean()) and d["warnings"] == []
    assert "phase_coverage" not in weight_diagnostics(w, phases=np.full(18, ""))
    with pytest.raises(ValueError, match="phases has shape"):
        weight_diagnostics(w, phases=phases[:3])


def test_histogram_png(tmp_path):
    path = tmp_path / "sub" / "hist.png"
    plot_weight_histogram(np.random.default_rng(0).uniform(0, 2, 1000), path, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
