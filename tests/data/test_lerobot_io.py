"""Round trip, fingerprint, episode table, frames, splits and clear errors on bad files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from rabc.data import (
    create_dataset,
    dataset_features,
    dataset_fingerprint,
    episode_table,
    load_dataset,
    read_episode_frames,
    split_episodes,
)
from rabc.data.oracle import ORACLE_PROGRESS_PATH
from rabc.io import RabcFileError
from rabc.progress import read_progress
from rabc.types import ACTION, OBS_ENV_STATE, OBS_STATE, ORACLE_PROGRESS, QUALITY, SUCCESS


def _write_synthetic(root, n_eps=2, length=12, size=32):
    """A hand-made dataset with known arrays (no simulator)."""
    feats = dataset_features("corner", size)
    ds = create_dataset(root, feats, fps=10)
    rng = np.random.default_rng(0)
    truth = []
    for e in range(n_eps):
        st = rng.normal(size=(length, 4)).astype(np.float32)
        es = rng.normal(size=(length, 17)).astype(np.float32)
        ac = rng.uniform(-1, 1, size=(length, 4)).astype(np.float32)
        # smooth images (a gradient that moves): video compression keeps them close
        base = np.linspace(0, 200, size, dtype=np.float32)
        imgs = np.stack(
            [np.broadcast_to((base[None, :, None] + 4 * t) % 255, (size, size, 3)) for t in range(length)]
        ).astype(np.uint8)
        task = f"task number {e}"
        for t in range(length):
            ds.add_frame(
                {
                    OBS_STATE: st[t],
                    OBS_ENV_STATE: es[t],
                    ACTION: ac[t],
                    "observation.images.corner": imgs[t],
                    QUALITY: np.array([e], dtype=np.int64),
                    SUCCESS: np.array([1], dtype=np.int64),
                    ORACLE_PROGRESS: np.array([t / length], dtype=np.float32),
                    "task": task,
                }
            )
        ds.save_episode()
        truth.append((st, es, ac, imgs, task))
    ds.finalize()
    return truth


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "ds"
    return root, _write_synthetic(root)


def test_round_trip_identical_arrays_tasks_and_frames(synthetic):
    root, truth = synthetic
    ds = load_dataset(root)
    assert len(ds) == sum(len(t[0]) for t in truth)
    items = [ds[i] for i in range(len(ds))]
    st = np.stack([it[OBS_STATE].numpy() for it in items])
    ac = np.stack([it[ACTION].numpy() for it in items])
    es = np.stack([it[OBS_ENV_STATE].numpy() for it in items])
    np.testing.assert_array_equal(st, np.concatenate([t[0] for t in truth]))
    np.testing.assert_array_equal(es, np.concatenate([t[1] for t in truth]))
    np.testing.assert_array_equal(ac, np.concatenate([t[2] for t in truth]))
    assert [it["task"] for it in items] == [t[4] for t in truth for _ in range(len(t[0]))]
    frames, ts = read_episode_frames(root, 1)
    assert frames.dtype == np.uint8 and frames.shape == truth[1][3].shape
    np.testing.assert_allclose(ts, np.arange(len(frames)) / 10)
    # lossy video: close to what was written, and frame order preserved
    err = np.abs(frames.astype(float) - truth[1][3].astype(float)).mean()
    assert err < 12, err
    assert np.abs(frames[:3].astype(float) - truth[1][3][-3:].astype(float)).mean() > err


def test_fingerprint_stable_and_sensitive(synthetic, tmp_path):
    root, _ = synthetic
    fp = dataset_fingerprint(root)
    assert fp == dataset_fingerprint(root) and len(fp) == 64
    other = tmp_path / "other"
    _write_synthetic(other, n_eps=2, length=13)
    assert dataset_fingerprint(other) != fp


def test_missing_root_is_clear_and_not_created(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(RabcFileError, match="does not exist"):
        load_dataset(missing)
    assert not missing.exists()


def test_corrupt_data_parquet_names_file(synthetic, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(synthetic[0], root)
    f = root / "data/chunk-000/file-000.parquet"
    f.write_bytes(b"not a parquet file at all")
    with pytest.raises(RabcFileError, match=r"data/chunk-000/file-000\.parquet"):
        load_dataset(root)


def test_missing_video_names_file(synthetic, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(synthetic[0], root)
    (root / "videos/observation.images.corner/chunk-000/file-000.mp4").unlink()
    with pytest.raises(RabcFileError, match=r"file-000\.mp4"):
        load_dataset(root)


def test_wrong_feature_shape(synthetic, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(synthetic[0], root)
    with pytest.raises(RabcFileError, match="observation.state"):
        load_dataset(root, expected_features={OBS_STATE: {"dtype": "float32", "shape": (5,)}})
    # info.json declaring a shape the data does not have
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][OBS_STATE]["shape"] = [6]
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(RabcFileError, match=r"file-000\.parquet.*observation\.state.*\[4\].*\[6\]"):
        load_dataset(root)


def test_generated_dataset_contract(tiny_dataset):
    df = episode_table(tiny_dataset)
    assert len(df) == 7
    assert (df["to_index"] - df["from_index"] == df["length"]).all()
    assert df["seed"].is_unique
    assert set(df.loc[~df["heldout"], "quality_name"]) == {"clean", "detour", "fail"}
    assert not df.loc[df["quality_name"] == "fail", "success"].any()
    assert df.loc[df["quality_name"] == "clean", "success"].all()
    fp = dataset_fingerprint(tiny_dataset)
    prog = read_progress(
        tiny_dataset / ORACLE_PROGRESS_PATH, expect_num_frames=int(df["length"].sum()), expect_fingerprint=fp
    )
    assert prog.provenance["scorer"] == "oracle" and prog.progress.dtype == np.float32
    assert pq.read_schema(tiny_dataset / ORACLE_PROGRESS_PATH).field("progress_sparse").type == "float"
    # per-frame dataset features agree with the sidecar and the progress parquet
    ds = load_dataset(tiny_dataset, episodes=[1])
    hf = ds.hf_dataset
    np.testing.assert_allclose(
        np.asarray(hf[ORACLE_PROGRESS]).ravel(), prog.progress[prog.episode_index == 1], rtol=0, atol=0
    )
    assert np.all(np.asarray(hf[QUALITY]).ravel() == df.loc[1, "quality"])
    assert ds[0]["task"] == "push the puck to the goal"
    ends = prog.progress[np.r_[np.flatnonzero(np.diff(prog.episode_index)), len(prog) - 1]]
    np.testing.assert_array_equal(ends >= 1.0, df["success"].to_numpy(bool))
    frames, _ = read_episode_frames(tiny_dataset, 0, camera="corner", frame_indices=[0, 5])
    assert frames.shape == (2, 32, 32, 3) and frames.std() > 5  # a real rendered scene, not black


def test_splits_disjoint(tiny_dataset):
    s = split_episodes(tiny_dataset, val_fraction=0.34, seed=1)
    all_eps = s["train"] + s["val"] + s["heldout"]
    assert len(all_eps) == len(set(all_eps)) == 7
    assert s["heldout"] == [6] and len(s["val"]) == 2
    assert s == split_episodes(tiny_dataset, val_fraction=0.34, seed=1)
    with pytest.raises(ValueError):
        split_episodes(tiny_dataset, val_fraction=1.0)
