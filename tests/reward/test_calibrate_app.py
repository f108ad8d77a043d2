"""scripts/calibrate.py's run(): fit on labelled episodes, apply, write a progress parquet any weighting reads."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from rabc.app import calibrate
from rabc.app.cli import CONFIGS
from rabc.data import dataset_info
from rabc.progress import read_progress
from rabc.reward.labeller import label_dataset
from rabc.weighting import TopAWR, compute_weights


@pytest.fixture(scope="module")
def labelled(tiny_dataset, tiny_vlm_dir, tmp_path_factory):
    from rabc.reward import TopRewardScorer

    out = tmp_path_factory.mktemp("cal") / "progress.parquet"
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=4)
    label_dataset(tiny_dataset, scorer, out, scorer_name="topreward_tiny", show_progress=False)
    return out


def _run(overrides):
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return calibrate.run(compose("calibrate", overrides=overrides))


def test_calibrate_fits_applies_and_feeds_weighting(labelled, tiny_dataset, tmp_path):
    out = tmp_path / "calibrated.parquet"
    res = _run([f"fit.progress={labelled}", f"fit.root={tiny_dataset}", f"apply.progress={labelled}",
                f"apply.root={tiny_dataset}", f"out={out}"])  # fmt: skip
    assert res.calibration == tmp_path / "calibrated.calibration.json" and res.calibration.is_file()
    table = read_progress(out, expect_fingerprint=dataset_info(tiny_dataset).fingerprint)
    assert table.provenance["calibration"]["path"] == str(res.calibration)
    assert np.all((table.progress >= 0) & (table.progress <= 1))
    eps = dataset_info(tiny_dataset).episodes
    final = {int(e): float(table.progress[table.episode_index == e][-1]) for e in eps["episode_index"]}
    failed = [final[int(e)] for e, s in zip(eps["episode_index"], eps["success"]) if not s]
    assert failed and max(failed) < 1.0  # a failed demo no longer ends at progress 1
    result, _ = compute_weights(out, TopAWR(horizon_s=0.1, temperature="std"))
    assert len(result) == len(table) and np.isfinite(result.weight).all()
    # reuse the saved calibration; a task it was not fitted on is refused, named
    again = _run([f"calibration={res.calibration}", f"apply.progress={labelled}", f"apply.root={tiny_dataset}",
                  f"out={tmp_path / 'again.parquet'}"])  # fmt: skip
    np.testing.assert_array_equal(read_progress(again.out).progress, table.progress)
    push = eps.loc[eps["env_task"] == "push-v3", "episode_index"].tolist()
    with pytest.raises(ValueError, match="not on 'open the drawer|not on '"):
        _run([f"fit.progress={labelled}", f"fit.root={tiny_dataset}", f"fit.episodes={push}",
              f"apply.progress={labelled}", f"apply.root={tiny_dataset}", f"out={tmp_path / 'x.parquet'}"])  # fmt: skip
    assert json.loads(res.calibration.read_text())["format"].startswith("rabc.progress_calibration")
    kept = _run([f"calibration={tmp_path / 'x.calibration.json'}", f"apply.progress={labelled}",
                 f"apply.root={tiny_dataset}", f"out={tmp_path / 'kept.parquet'}", "unknown_tasks=keep"])  # fmt: skip
    t = read_progress(kept.out)
    drawer = eps.loc[eps["env_task"] != "push-v3", "episode_index"].tolist()
    rows = np.isin(t.episode_index, drawer)
    np.testing.assert_array_equal(t.progress[rows], read_progress(labelled).progress[rows])  # left as it was
    assert t.provenance["calibration"]["uncalibrated_tasks"] and not np.array_equal(
        t.progress, table.progress
    )


def test_calibrate_on_the_true_minus_false_margin(labelled, tiny_dataset, tmp_path):
    out = tmp_path / "margin.parquet"
    res = _run([f"fit.progress={labelled}", f"fit.root={tiny_dataset}", "fit.signal=margin",
                f"apply.progress={labelled}", f"apply.root={tiny_dataset}", f"out={out}"])  # fmt: skip
    table = read_progress(out)
    assert table.provenance["calibration"]["signal"] == "margin"
    assert json.loads(res.calibration.read_text())["signal"] == "margin"
    assert np.all((table.progress >= 0) & (table.progress <= 1))
