"""The one reading of meta/info.json (DatasetInfo) and the one oracle-progress provider."""

import json
import shutil

import numpy as np
import pytest

from rabc.data import dataset_fingerprint, dataset_info, episode_table
from rabc.data.oracle import is_oracle_progress, oracle_progress_path, read_oracle_progress
from rabc.io import RabcFileError
from rabc.progress import read_progress


def test_dataset_info_reads_info_json_once_and_names_bad_files(tiny_dataset, tmp_path):
    info = dataset_info(tiny_dataset)
    raw = json.loads((tiny_dataset / "meta" / "info.json").read_text())
    assert (info.fps, info.total_frames, info.total_episodes) == (
        raw["fps"],
        raw["total_frames"],
        raw["total_episodes"],
    )
    assert info.fingerprint == dataset_fingerprint(tiny_dataset)
    assert info.episodes["length"].sum() == info.total_frames
    assert info.episodes.equals(episode_table(tiny_dataset))
    with pytest.raises(RabcFileError, match="does not exist"):
        dataset_info(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    (bad / "meta").mkdir(parents=True)
    (bad / "meta" / "info.json").write_text(json.dumps({"fps": 10}))
    with pytest.raises(RabcFileError, match="info.json: lacks key"):
        dataset_info(bad)


def test_oracle_progress_parquet_column_fallback_and_label(tiny_dataset, tmp_path):
    parquet = read_oracle_progress(tiny_dataset)
    direct = read_progress(oracle_progress_path(tiny_dataset))
    np.testing.assert_array_equal(parquet.progress, direct.progress)
    assert parquet.provenance["source"] == str(oracle_progress_path(tiny_dataset))
    copy = tmp_path / "ds"
    shutil.copytree(tiny_dataset, copy)
    oracle_progress_path(copy).unlink()  # only the per-frame data column is left
    column = read_oracle_progress(copy)
    assert "column progress_oracle" in column.provenance["source"]
    np.testing.assert_array_equal(column.index, parquet.index)
    np.testing.assert_allclose(column.progress, parquet.progress)
    assert is_oracle_progress(oracle_progress_path(tiny_dataset), tiny_dataset)
    assert not is_oracle_progress(oracle_progress_path(tiny_dataset), copy)  # another dataset's oracle
    assert not is_oracle_progress(tiny_dataset / "progress" / "topreward.parquet")


def test_every_artefact_carries_the_one_provenance_stamp(tiny_dataset, tmp_path):
    from rabc.data import read_sidecar
    from rabc.io import provenance_stamp, read_parquet
    from rabc.weighting import Uniform, compute_weights, write_weights

    stamp = provenance_stamp()
    assert set(stamp) == {"rabc_version", "git_sha"}
    sidecar = read_sidecar(tiny_dataset)
    progress = read_oracle_progress(tiny_dataset).provenance
    result, meta = compute_weights(oracle_progress_path(tiny_dataset), Uniform())
    write_weights(tmp_path / "w.parquet", result, meta)
    _, weights_meta = read_parquet(tmp_path / "w.parquet")
    for doc in (sidecar, progress, weights_meta):
        assert {k: doc[k] for k in stamp} == stamp


def test_weight_diagnostics_of_a_dataset_report_the_phase_coverage_of_all_frames(tiny_dataset, tmp_path):
    """diagnose(dataset_root=...): task x tenth of episode for every frame from the episode metadata (held-out
    tasks left out); starving one tenth of a task's episodes is named; a folder without metadata has none."""
    from rabc.data.weights import diagnose, read_dataset_labels

    labels = read_dataset_labels(tiny_dataset)
    index = labels["index"]
    eps = episode_table(tiny_dataset)
    train = eps[~eps["heldout"].astype(bool)]
    w = np.ones(len(index))
    ep = train.iloc[0]
    task = ep["env_task"] or ep["task"]
    # the last tenth of every episode of this task gets weight 0
    for _, row in train[(train["env_task"] == ep["env_task"]) & (train["task"] == ep["task"])].iterrows():
        inside = (index >= row["from_index"]) & (index < row["to_index"])
        w[inside & ((index - row["from_index"]) * 10 // row["length"] == 9)] = 0.0
    diag = diagnose(index, w, labels=labels, dataset_root=tiny_dataset)
    assert diag["phase_coverage"] == 0.0 and diag["weakest_phase"] == f"{task} 10/10"
    assert any(f"phase '{task} 10/10'" in m for m in diag["warnings"])
    diag = diagnose(index, np.ones(len(index)), labels=labels, dataset_root=tiny_dataset, near_uniform_cv=0.0)
    assert diag["phase_coverage"] == 1.0 and diag["warnings"] == []
    bare = tmp_path / "bare"
    shutil.copytree(tiny_dataset / "data", bare / "data")
    assert "phase_coverage" not in diagnose(index, w, labels=labels, dataset_root=bare)
