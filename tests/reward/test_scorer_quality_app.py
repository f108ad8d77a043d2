"""scripts/scorer_quality.py's run(): one corrected sweep per episode gives raw and corrected progress, the
calibration is fitted on the calibration dataset's training episodes and never applied to a held-out task."""

import json

import numpy as np
from hydra import compose, initialize_config_dir

from rabc.app import scorer_quality
from rabc.app.cli import CONFIGS
from rabc.metrics.scorer_quality import METRICS


def test_scorer_quality_table_on_a_tiny_scorer(tiny_vlm_dir, tiny_dataset, tmp_path):
    args = [f"model={tiny_vlm_dir}", f"root={tiny_dataset}", f"calibration_root={tiny_dataset}",
            f"out={tmp_path}", "scorer.num_anchors=4", "scorer.max_frames=6", "calibration_val_fraction=0.34",
            "n_boot=50"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = scorer_quality.run(compose("scorer_quality", overrides=args))
    saved = json.loads(res.json.read_text(), parse_constant=float)["groups"]
    train, held = saved["training tasks (held-out episodes)"], saved["held-out tasks"]
    assert set(train) == {"raw", "corrected", "calibrated", "oracle"}
    assert set(held) == {"raw", "corrected", "oracle"}  # no calibration for a task it was not fitted on
    for row in train.values():
        assert set(row) == set(METRICS)
    est, lo, hi = train["raw"]["voc"]
    assert -1 <= lo <= est <= hi <= 1
    # the raw source carries the still clip (static VOC measured); the corrected one subtracts it
    assert np.isfinite(train["raw"]["static_voc"][0]) and not np.isfinite(train["corrected"]["static_voc"][0])
    assert np.isfinite(train["oracle"]["frame_auc"][0])
    text = res.markdown.read_text()
    assert "## held-out tasks: 1 episodes" in text and "| calibrated |" in text


def test_scorer_quality_adds_rows_for_other_progress_sources(tiny_vlm_dir, tiny_dataset, tmp_path):
    """``progress={name: parquet}``: a row per source, measured like the oracle's (here: the oracle file itself)."""
    from rabc.data.oracle import oracle_progress_path

    args = [f"model={tiny_vlm_dir}", f"root={tiny_dataset}", f"calibration_root={tiny_dataset}",
            f"out={tmp_path}", "scorer.num_anchors=4", "scorer.max_frames=6", "calibration_val_fraction=0.34",
            "n_boot=50", f"+progress.same_as_oracle={oracle_progress_path(tiny_dataset)}"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = scorer_quality.run(compose("scorer_quality", overrides=args))
    train = json.loads(res.json.read_text(), parse_constant=float)["groups"][
        "training tasks (held-out episodes)"
    ]
    assert set(train) == {"raw", "corrected", "calibrated", "same_as_oracle", "oracle"}
    np.testing.assert_equal(train["same_as_oracle"], train["oracle"])
    assert "| same_as_oracle |" in res.markdown.read_text()


def test_a_logistic_margin_calibration_can_be_fitted_on_the_scorers_validation_episodes(
    tiny_vlm_dir, tiny_dataset, tmp_path
):
    import pytest

    from rabc.data import split_episodes

    args = [f"model={tiny_vlm_dir}", f"root={tiny_dataset}", f"calibration_root={tiny_dataset}",
            f"out={tmp_path}", "scorer.num_anchors=4", "scorer.max_frames=6", "calibration_val_fraction=0.34",
            "n_boot=20", "calibration_method=logistic", "calibration_signal=margin",
            "calibration_episodes=val"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = scorer_quality.run(compose("scorer_quality", overrides=args))
        with pytest.raises(ValueError, match="calibration_episodes must be one of"):
            scorer_quality.run(compose("scorer_quality", overrides=[*args[:-1], "calibration_episodes=test"]))
    saved = json.loads(res.json.read_text(), parse_constant=float)
    val = split_episodes(tiny_dataset, 0.34, 0)["val"]
    assert saved["calibration_episodes"] == {"split": "val", "episodes": val}
    assert saved["calibration_method"] == "logistic" and saved["calibration_signal"] == "margin"
    text = res.markdown.read_text()
    assert (
        f"logistic calibration of the True − False margin fitted on the {len(val)} validation (not trained on) "
        "episodes" in text
    )
    assert f"progress gained over the next {saved['horizon_frames']} frames (1.0 s)" in text
    assert (
        saved["scorer"]["num_anchors"] == 4 and saved["scorer"]["correction"] == "static"
    )  # what it scored with
