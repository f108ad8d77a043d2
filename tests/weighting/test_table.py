"""The weights parquet and WeightTable: metadata, validation against a dataset, vectorised lookup, fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rabc.io import RabcFileError, file_sha256, read_parquet
from rabc.progress import write_progress
from rabc.weighting import TopAWR, WeightTable, compute_weights, write_weights
from tests.weighting.synth import synth_progress


@pytest.fixture
def weights_file(tmp_path):
    t = synth_progress([30, 45, 12], seed=4, start_index=500)
    prog = tmp_path / "progress.parquet"
    write_progress(prog, t)
    result, meta = compute_weights(prog, TopAWR(horizon_s=0.5, temperature="std/3"))
    out = tmp_path / "weights.parquet"
    write_weights(out, result, meta)
    return out, prog, result


def test_weights_parquet_columns_and_metadata(weights_file):
    out, prog, result = weights_file
    table, meta = read_parquet(out)
    assert table.column_names == ["index", "advantage", "weight"]
    assert [str(table.schema.field(c).type) for c in table.column_names] == ["int64", "float", "float"]
    np.testing.assert_array_equal(table.column("weight").to_numpy(), result.weight)
    assert meta["scheme"] == "top_awr" and meta["params"]["temperature"] == "std/3"
    assert meta["fps"] == 10.0 and meta["horizon_s"] == pytest.approx(0.5) and meta["horizon_frames"] == 5
    assert meta["progress_sha256"] == file_sha256(prog)
    assert meta["dataset_fingerprint"] == "f" * 64 and meta["num_frames"] == 87
    assert meta["derived"]["temperature_value"] == pytest.approx(meta["derived"]["increment_std"] / 3)


def test_fps_must_be_known(tmp_path):
    t = synth_progress([10])
    t.provenance = {}
    write_progress(tmp_path / "p.parquet", t)
    with pytest.raises(ValueError, match="no fps"):
        compute_weights(tmp_path / "p.parquet", TopAWR())
    _, meta = compute_weights(tmp_path / "p.parquet", TopAWR(), fps=30.0)
    assert meta["fps"] == 30.0


def test_load_validates_against_dataset(weights_file):
    out, _, _ = weights_file
    wt = WeightTable.load(out, expect_num_frames=87, expect_fingerprint="f" * 64)
    assert len(wt) == 87
    with pytest.raises(RabcFileError, match="cover 87 frames but the dataset has 90"):
        WeightTable.load(out, expect_num_frames=90)
    with pytest.raises(RabcFileError, match="another dataset"):
        WeightTable.load(out, expect_fingerprint="0" * 64)


def test_load_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(RabcFileError, match="bad.parquet"):
        WeightTable.load(bad)
    with pytest.raises(RabcFileError, match="file not found"):
        WeightTable.load(tmp_path / "missing.parquet")
    t = synth_progress([5])
    write_progress(tmp_path / "p.parquet", t)
    with pytest.raises(RabcFileError, match=r"lacks column\(s\) \['advantage', 'weight'\]"):
        WeightTable.load(tmp_path / "p.parquet")
    with pytest.raises(RabcFileError, match="finite and non-negative"):
        WeightTable(np.arange(3), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(RabcFileError, match="index 2 appears more than once"):
        WeightTable(np.array([2, 1, 2]), np.ones(3))


def test_lookup_any_shape(weights_file):
    out, _, result = weights_file
    wt = WeightTable.load(out)
    q = np.array([[586, 500], [540, 541]])
    expect = result.weight[q - 500]
    got = wt.lookup(q)
    assert got.dtype == np.float32 and got.shape == q.shape
    np.testing.assert_array_equal(got, expect)


def test_missing_index_is_an_error_unless_fallback(weights_file, caplog):
    out, _, _ = weights_file
    wt = WeightTable.load(out)
    with pytest.raises(KeyError, match=r"2 frame\(s\) have no weight .*\[499, 587\]"):
        wt.lookup(np.array([499, 500, 587]))
    with pytest.raises(KeyError):
        wt.lookup(np.array([10_000]))
    fb = WeightTable.load(out, fallback_weight=0.5)
    with caplog.at_level(logging.WARNING):
        got = fb.lookup(np.array([499, 500, 587]))
        got_t = fb.lookup(np.array([499, 1]))
    np.testing.assert_array_equal(got[[0, 2]], [0.5, 0.5])
    assert got[1] == wt.lookup(np.array([500]))[0]
    np.testing.assert_array_equal(got_t, [0.5, 0.5])
    assert fb.num_fallback == 4
    assert "fallback_weight=0.5" in caplog.text


def test_explicit_fallback_accepts_a_table_with_fewer_frames(weights_file, caplog):
    out, _, result = weights_file
    n = len(result)
    with pytest.raises(RabcFileError, match=f"weights cover {n} frames but the dataset has {n + 3}"):
        WeightTable.load(out, expect_num_frames=n + 3)
    with caplog.at_level(logging.WARNING):
        wt = WeightTable.load(out, expect_num_frames=n + 3, fallback_weight=1.0)
    assert "missing frames get fallback_weight=1.0" in caplog.text
    assert wt.lookup(np.array([10_000]))[0] == 1.0 and wt.num_fallback == 1
