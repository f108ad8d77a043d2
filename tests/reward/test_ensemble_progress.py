"""rabc.progress.mean_progress and scripts/ensemble_progress.py: the mean of several scorers' progress is a
progress source like any other; members of other frames or datasets are refused, named."""

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from rabc.app import ensemble_progress
from rabc.app.cli import CONFIGS
from rabc.io import RabcFileError
from rabc.progress import ProgressTable, mean_progress, read_progress, write_progress
from rabc.weighting import TopAWR, compute_weights


def _table(progress, fingerprint="abc", fps=10.0):
    n = len(progress)
    return ProgressTable(
        index=np.arange(n), episode_index=np.repeat([0, 1], n // 2), frame_index=np.tile(np.arange(n // 2), 2),
        progress=np.asarray(progress, np.float32), provenance={"dataset_fingerprint": fingerprint, "fps": fps},
    )  # fmt: skip


def test_mean_progress_averages_frames_and_keeps_what_members_agree_on():
    a = _table([0.0, 0.5, 1.0, 0.0, 1.0, 0.0])
    b = _table([0.0, 1.0, 1.0, 1.0, 0.0, np.nan], fps=10.0)
    b.provenance["scorer"] = "seed 1"
    m = mean_progress([a, b], ["a", "b"])
    np.testing.assert_allclose(m.progress[:5], [0.0, 0.75, 1.0, 0.5, 0.5])
    assert np.isnan(m.progress[5])  # a member's NaN stays NaN: the weighting's nan_policy decides
    assert m.provenance["dataset_fingerprint"] == "abc" and m.provenance["fps"] == 10.0
    assert "scorer" not in m.provenance  # only the fields every member agrees on
    assert [x["name"] for x in m.provenance["ensemble"]["members"]] == ["a", "b"]
    assert m.provenance["ensemble"]["members"][1]["provenance"]["scorer"] == "seed 1"
    with pytest.raises(ValueError, match="at least two"):
        mean_progress([a])
    short = ProgressTable(np.arange(4), np.repeat([0, 1], 2), np.tile(np.arange(2), 2), np.zeros(4))
    with pytest.raises(ValueError, match="short: covers other frames than a"):
        mean_progress([a, short], ["a", "short"])


def test_ensemble_command_writes_a_progress_source_for_weighting(tmp_path, tiny_dataset):
    paths = []
    for i, p in enumerate([[0.0, 0.2, 1.0, 0.0, 0.5, 1.0], [0.0, 0.6, 1.0, 0.0, 0.1, 1.0]]):
        paths.append(tmp_path / f"m{i}.parquet")
        write_progress(paths[-1], _table(p))
    out = tmp_path / "mean.parquet"
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = ensemble_progress.run(compose("ensemble_progress", overrides=[f"inputs=[{paths[0]},{paths[1]}]",
                                                                             f"out={out}"]))  # fmt: skip
    assert res.out == out and res.members == paths
    t = read_progress(out)
    np.testing.assert_allclose(t.progress, [0.0, 0.4, 1.0, 0.0, 0.3, 1.0], atol=1e-7)
    result, _ = compute_weights(out, TopAWR(horizon_s=0.1, temperature="std"))
    assert len(result) == 6 and np.isfinite(result.weight).all()
    # with dataset_root, an input computed on another dataset is refused, named
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose("ensemble_progress", overrides=[f"inputs=[{paths[0]},{paths[1]}]", f"out={tmp_path / 'x'}",
                                                      f"dataset_root={tiny_dataset}"])  # fmt: skip
    with pytest.raises(RabcFileError, match="m0.parquet: progress was computed on another dataset"):
        ensemble_progress.run(cfg)
    assert not (tmp_path / "x").exists()
