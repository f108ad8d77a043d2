"""Calibrated progress: a per-task isotonic or logistic map from raw log p, anchored on successful and failed
episodes."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.progress import ProgressTable, read_progress, write_progress
from rabc.reward.calibration import ProgressCalibration, calibrate, fit_calibration, fit_logistic
from rabc.reward.topreward import anchor_lengths, dense_progress, minmax_normalise

N = 40  # frames per episode


def _table(curves: dict[int, np.ndarray]) -> ProgressTable:
    """A labeller-style table: raw log p at the K anchors (NaN elsewhere), Eq. 2 progress interpolated."""
    idx, eps, fr, prog, logp = [], [], [], [], []
    for ep, curve in curves.items():
        anchors = anchor_lengths(N, len(curve)) - 1
        lp = np.full(N, np.nan)
        lp[anchors] = curve
        idx.append(ep * N + np.arange(N)), eps.append(np.full(N, ep)), fr.append(np.arange(N))
        prog.append(dense_progress(anchors, minmax_normalise(curve), N)), logp.append(lp)
    return ProgressTable(
        index=np.concatenate(idx), episode_index=np.concatenate(eps), frame_index=np.concatenate(fr),
        progress=np.concatenate(prog), provenance={"scorer": "constructed"}, extra={"logp_true": np.concatenate(logp)},
    )  # fmt: skip


def _curve(end: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.linspace(-5.0, end, 15) + 0.05 * rng.standard_normal(15)


@pytest.fixture()
def data():
    # episodes 0-3 successful (rise to about -0.5), 4-7 failed (stall around -2.5); 8, 9 held out
    curves = {e: _curve(-0.5, e) for e in range(4)} | {e: _curve(-2.5, e) for e in range(4, 8)}
    curves |= {8: _curve(-0.5, 8), 9: _curve(-2.5, 9)}
    tasks = {e: "open the drawer" for e in curves}
    success = {e: e < 4 for e in range(8)}
    return _table(curves), tasks, success


def test_failed_episode_ends_below_a_successful_one(data, tmp_path):
    table, tasks, success = data
    last = {e: table.progress[table.episode_index == e][-1] for e in (8, 9)}
    assert last[8] == last[9] == 1.0  # min-max: both end at 1
    out = calibrate(table, fit_calibration(table, tasks, success), tasks)
    end = {e: out.progress[out.episode_index == e][-1] for e in (8, 9)}
    assert end[8] > 0.9 and end[9] < end[8] - 0.3  # the failed one stops where successful ones are half-way
    assert (
        np.all((out.progress >= 0) & (out.progress <= 1))
        and out.provenance["calibration"]["method"] == "isotonic"
    )
    write_progress(tmp_path / "calibrated.parquet", out)  # a progress parquet like any other
    back = read_progress(tmp_path / "calibrated.parquet")
    np.testing.assert_array_equal(back.progress, out.progress)


def test_logistic_fit_recovers_known_parameters_and_keeps_the_slope_positive():
    from scipy.special import expit

    x = np.linspace(-6.0, 1.0, 400)
    a, b = fit_logistic(x, expit(1.7 * x + 3.0))  # fractional targets on the curve itself
    assert a == pytest.approx(1.7, rel=1e-3) and b == pytest.approx(3.0, rel=1e-3)
    a, _ = fit_logistic(x, expit(-2.0 * x))  # falling targets: the best increasing map is nearly flat
    assert 0 < a < 0.05


def test_logistic_calibration_separates_and_refuses_unknown_methods(data, tmp_path):
    table, tasks, success = data
    cal = fit_calibration(table, tasks, success, method="logistic")
    out = calibrate(table, cal, tasks)
    end = {e: out.progress[out.episode_index == e][-1] for e in (8, 9)}
    assert end[9] < 0.5 < end[8] and out.provenance["calibration"]["method"] == "logistic"
    x, y = cal.maps["open the drawer"]
    assert len(x) == 512 and np.all(np.diff(y) > 0) and 0 < y[0] < y[-1] < 1  # smooth, strictly increasing
    cal.save(tmp_path / "cal.json")
    assert ProgressCalibration.load(tmp_path / "cal.json").method == "logistic"
    with pytest.raises(ValueError, match="calibration method must be one of"):
        fit_calibration(table, tasks, success, method="platt")


def test_margin_signal_calibrates_true_minus_false(data, tmp_path):
    """log p(" True") alike in successful and failed episodes, told apart only by log p(" False"): the margin
    calibration separates them, the log p one cannot; the signal is saved and refused when the column is absent."""
    table, tasks, success = data
    true = table.extra["logp_true"]
    flat = np.where(np.isfinite(true), -1.0, np.nan)  # every anchor says the same log p(" True")
    # log p(" False") = -(raw curve): high where the raw curve stalls (failed), low where it rises (successful)
    same = ProgressTable(table.index, table.episode_index, table.frame_index, table.progress,
                         extra={"logp_true": flat, "logp_false": -true - 6.0})  # fmt: skip
    cal = fit_calibration(same, tasks, success, signal="margin")
    out = calibrate(same, cal, tasks)
    end = {e: out.progress[out.episode_index == e][-1] for e in (8, 9)}
    assert end[8] > 0.9 and end[9] < end[8] - 0.3 and out.provenance["calibration"]["signal"] == "margin"
    by_logp = calibrate(same, fit_calibration(same, tasks, success), tasks)
    assert (
        by_logp.progress[by_logp.episode_index == 8][-1] == by_logp.progress[by_logp.episode_index == 9][-1]
    )
    cal.save(tmp_path / "cal.json")
    assert ProgressCalibration.load(tmp_path / "cal.json").signal == "margin"
    no_false = ProgressTable(
        table.index, table.episode_index, table.frame_index, table.progress, extra=table.extra
    )
    with pytest.raises(ValueError, match="no raw 'logp_false'"):
        fit_calibration(no_false, tasks, success, signal="margin")
    with pytest.raises(ValueError, match="calibration signal must be one of"):
        fit_calibration(table, tasks, success, signal="odds")


def test_save_load_round_trip(data, tmp_path):
    table, tasks, success = data
    cal = fit_calibration(table, tasks, success)
    cal.save(tmp_path / "cal.json")
    again = ProgressCalibration.load(tmp_path / "cal.json")
    np.testing.assert_array_equal(
        calibrate(table, again, tasks).progress, calibrate(table, cal, tasks).progress
    )


def test_other_task_is_refused_by_name(data):
    table, tasks, success = data
    cal = fit_calibration(table, tasks, success)
    with pytest.raises(ValueError, match="not on 'close the door'"):
        calibrate(table, cal, {e: "close the door" for e in tasks})


def test_table_without_raw_logp_is_refused(data):
    table, tasks, success = data
    oracle = ProgressTable(table.index, table.episode_index, table.frame_index, table.progress)
    with pytest.raises(ValueError, match="no raw 'logp_true'"):
        fit_calibration(oracle, tasks, success)
