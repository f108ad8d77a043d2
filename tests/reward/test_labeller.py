"""Labeller on the tiny generated dataset + tiny Qwen3-VL: coverage, provenance, lerobot interop, shards, resume."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rabc.data import dataset_fingerprint, episode_table
from rabc.io import RabcFileError
from rabc.progress import read_progress
from rabc.reward.labeller import Labeller, label_dataset, parse_shard, part_path, parts_dir
from rabc.reward.topreward import TopRewardScorer


class Counting:
    """Wraps a scorer and records which episodes it scored (by task + length, the inputs it sees)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def score_episode(self, frames, **kw):
        self.calls.append(len(frames))
        return self.inner.score_episode(frames, **kw)


@pytest.fixture(scope="module")
def tiny_scorer(tiny_vlm_dir):
    return TopRewardScorer(str(tiny_vlm_dir), num_anchors=4)


@pytest.fixture(scope="module")
def full_run(tiny_dataset, tiny_scorer, tmp_path_factory):
    out = tmp_path_factory.mktemp("label") / "progress.parquet"
    scorer = Counting(tiny_scorer)
    table = label_dataset(tiny_dataset, scorer, out, scorer_name="topreward_tiny", show_progress=False)
    return out, table, scorer


def _arrays(path):
    t = pq.read_table(path)
    return {c: t.column(c).to_numpy() for c in t.column_names}


def test_full_run_covers_every_frame_with_provenance(tiny_dataset, full_run, tiny_vlm_dir):
    out, table, scorer = full_run
    eps = episode_table(tiny_dataset)
    total = int(eps["length"].sum())
    assert len(scorer.calls) == len(eps)
    t = read_progress(out, expect_num_frames=total, expect_fingerprint=dataset_fingerprint(tiny_dataset))
    np.testing.assert_array_equal(t.index, np.arange(total))
    for ep, start, n in zip(eps["episode_index"], eps["from_index"], eps["length"], strict=True):
        sel = t.episode_index == ep
        np.testing.assert_array_equal(t.index[sel], np.arange(start, start + n))
        np.testing.assert_array_equal(t.frame_index[sel], np.arange(n))
        lp = t.extra["logp_true"][sel]
        anchors = np.flatnonzero(np.isfinite(lp))
        assert anchors.tolist() == t.provenance["anchors"][str(ep)]["frames"]
        assert len(anchors) == 4 and anchors[0] == 0 and anchors[-1] == n - 1
        assert np.all(lp[anchors] < 0)  # log probabilities
        prog = t.progress[sel]
        assert (
            prog.dtype == np.float32 and prog.min() == 0.0 and prog.max() == 1.0
        )  # Eq. 2 min-max per episode
    assert pq.read_schema(out).field("progress_sparse").type == "float"
    p = t.provenance
    assert p["dataset_fingerprint"] == dataset_fingerprint(tiny_dataset)
    assert (p["num_frames"], p["num_episodes"], p["num_anchors"]) == (total, len(eps), 4)
    assert p["scorer"] == "topreward_tiny" and p["model_id"] == str(tiny_vlm_dir)
    assert set(p["weights_sha256"]) == {f.name for f in tiny_vlm_dir.glob("*.safetensors")}
    assert p["adapter_sha256"] is None and p["fps"] > 0 and p["rabc_version"]
    assert set(p["prompts"]) == set(eps["task"])
    task = eps["task"].iloc[0]
    assert p["prompts"][task].endswith(
        f"{task} Decide whether the above statement is True or not. The answer is: True"
    )


def test_lerobot_rabc_weights_reads_our_parquet(full_run):
    from lerobot.rewards.sarm.rabc import RABCWeights

    out, _, _ = full_run
    w = RABCWeights(out, chunk_size=5, head_mode="sparse", device=torch.device("cpu"))
    t = read_progress(out)
    assert len(w.progress_lookup) == len(t)
    idx = torch.tensor([0, 10, 50, 120, 250, 400])
    weights, stats = w.compute_batch_weights({"index": idx})
    assert weights.shape == (6,) and torch.isfinite(weights).all()
    assert weights.sum().item() == pytest.approx(6.0, rel=1e-4)  # lerobot renormalises per batch
    # lerobot's delta uses our progress values: frame 0 -> frame 5 within episode 0
    assert w._compute_delta(0) == pytest.approx(float(t.progress[5] - t.progress[0]), abs=1e-6)


def test_two_shards_then_merge_equal_single_run(tiny_dataset, tiny_scorer, full_run, tmp_path):
    out_single, _, _ = full_run
    out = tmp_path / "progress.parquet"
    scorer = Counting(tiny_scorer)
    first = label_dataset(
        tiny_dataset, scorer, out, scorer_name="topreward_tiny", shard="0/2", show_progress=False
    )
    assert first is None and not out.exists()  # shard 1 still missing: no merge yet
    n_first = len(scorer.calls)
    merged = label_dataset(
        tiny_dataset, scorer, out, scorer_name="topreward_tiny", shard=(1, 2), show_progress=False
    )
    assert merged is not None and out.is_file()
    n_eps = len(episode_table(tiny_dataset))
    assert (n_first, len(scorer.calls)) == ((n_eps + 1) // 2, n_eps)
    a, b = _arrays(out_single), _arrays(out)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_redoes_only_the_deleted_episode(tiny_dataset, tiny_scorer, full_run, tmp_path):
    out_single, _, _ = full_run
    out = tmp_path / "progress.parquet"
    shutil.copytree(parts_dir(out_single), parts_dir(out))
    part_path(out, 3).unlink()
    scorer = Counting(tiny_scorer)
    label_dataset(tiny_dataset, scorer, out, scorer_name="topreward_tiny", resume=True, show_progress=False)
    eps = episode_table(tiny_dataset)
    assert scorer.calls == [int(eps.loc[eps["episode_index"] == 3, "length"].iloc[0])]
    a, b = _arrays(out_single), _arrays(out)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_corrupt_part_is_named_at_merge_and_redone_on_resume(
    tiny_dataset, tiny_scorer, full_run, tmp_path, caplog
):
    out_single, _, _ = full_run
    out = tmp_path / "progress.parquet"
    shutil.copytree(parts_dir(out_single), parts_dir(out))
    bad = part_path(out, 2)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # a truncated file
    scorer = Counting(tiny_scorer)
    with pytest.raises(RabcFileError, match="ep_000002.parquet"):
        label_dataset(tiny_dataset, scorer, out, scorer_name="topreward_tiny", merge_only=True)
    assert scorer.calls == [] and not out.exists()
    with caplog.at_level("WARNING"):
        label_dataset(
            tiny_dataset, scorer, out, scorer_name="topreward_tiny", resume=True, show_progress=False
        )
    assert len(scorer.calls) == 1 and "redoing episode 2" in caplog.text
    np.testing.assert_array_equal(_arrays(out_single)["logp_true"], _arrays(out)["logp_true"])


def test_missing_episode_and_foreign_part_fail_the_merge(tiny_dataset, tiny_scorer, full_run, tmp_path):
    out_single, _, _ = full_run
    out = tmp_path / "progress.parquet"
    shutil.copytree(parts_dir(out_single), parts_dir(out))
    part_path(out, 5).unlink()
    with pytest.raises(RabcFileError, match=r"not scored yet: \[5\]"):
        Labeller(tiny_dataset, Counting(tiny_scorer), out, scorer_name="topreward_tiny").merge()
    # parts written with other scorer settings (another K) are never mixed in
    other = Counting(TopRewardScorer(tiny_scorer.adapter, num_anchors=3))
    with pytest.raises(RabcFileError, match="part of another run"):
        label_dataset(tiny_dataset, other, out, scorer_name="topreward_tiny", episodes=[0], merge_only=True)


def test_episode_subset_merges_only_those(tiny_dataset, tiny_scorer, tmp_path):
    out = tmp_path / "p.parquet"
    t = label_dataset(tiny_dataset, tiny_scorer, out, scorer_name="x", episodes=[1, 4], show_progress=False)
    assert sorted(np.unique(t.episode_index).tolist()) == [1, 4]
    assert t.provenance["episodes"] == [1, 4]
    with pytest.raises(ValueError, match="do not exist"):
        Labeller(tiny_dataset, tiny_scorer, out, scorer_name="x", episodes=[99])


def test_parse_shard():
    assert parse_shard("1/3") == (1, 3)
    assert parse_shard(None, env={}) == (0, 1)
    assert parse_shard(None, env={"RANK": "2", "WORLD_SIZE": "4"}) == (2, 4)
    for bad in ("3/3", "a/b", "1"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


@pytest.mark.slow
def test_sigkill_mid_run_loses_at_most_the_episode_in_flight(tiny_dataset, tiny_vlm_dir, tmp_path):
    """Kill score.py (SIGKILL) as soon as its first part lands; every part left is valid, resume finishes the rest
    and the result equals an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "progress.parquet"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(repo / "scripts" / "score.py"), f"dataset.root={tiny_dataset}",
           f"scorer.model={tiny_vlm_dir}", "scorer.num_anchors=4", f"out={out}", "progress_bar=false"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (
        not list(parts_dir(out).glob("ep_*.parquet")) and time.monotonic() < deadline and proc.poll() is None
    ):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(parts_dir(out).glob("ep_*.parquet"))
    assert done, "no part was written before the kill"
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=4)  # the CLI's scorer: same provenance, same run
    scorer.calls, inner = [], scorer.score_episode
    scorer.score_episode = lambda frames, **kw: scorer.calls.append(len(frames)) or inner(frames, **kw)
    lab = Labeller(tiny_dataset, scorer, out, scorer_name="topreward_tiny")
    done_eps = [int(p.stem.split("_")[1]) for p in done]
    assert all(lab.part_ok(e) for e in done_eps)  # finished parts are whole and belong to the same run
    label_dataset(tiny_dataset, scorer, out, scorer_name="topreward_tiny", resume=True, show_progress=False)
    assert len(scorer.calls) == len(lab.episodes) - len(done_eps)
    ref = tmp_path / "ref.parquet"
    label_dataset(tiny_dataset, scorer, ref, scorer_name="topreward_tiny", show_progress=False)
    a, b = _arrays(ref), _arrays(out)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_video_is_named_and_resume_finishes_after_repair(
    tiny_dataset, tiny_scorer, full_run, tmp_path, damage
):
    """A video that cannot be decoded (cut short, or not a video at all) stops the labeller with an error naming
    the file; neither the progress parquet nor a half-written part file is left behind, the episodes finished
    before it are kept, and once the file is repaired ``resume`` scores only the rest and gives the same parquet."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    videos = sorted((root / "videos").rglob("*.mp4"))
    assert videos, "the tiny dataset has a camera"
    data = videos[0].read_bytes()
    videos[0].write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00not a video" * 64)
    out = tmp_path / "progress.parquet"
    with pytest.raises(RabcFileError, match=rf"{videos[0].name}.*(cannot decode|decoded \d+ of \d+)") as e:
        label_dataset(root, Counting(tiny_scorer), out, scorer_name="topreward_tiny", show_progress=False)
    assert not out.exists()
    parts = sorted(parts_dir(out).iterdir()) if parts_dir(out).exists() else []
    assert all(p.suffix == ".parquet" for p in parts)  # no temp files
    failed_at = int(re.search(r"episode (\d+)", str(e.value)).group(1))
    assert [p.name for p in parts] == [part_path(out, i).name for i in range(failed_at)]
    videos[0].write_bytes(data)
    scorer = Counting(tiny_scorer)
    label_dataset(root, scorer, out, scorer_name="topreward_tiny", resume=True, show_progress=False)
    assert len(scorer.calls) == len(episode_table(root)) - failed_at
    a, b = _arrays(full_run[0]), _arrays(out)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_torchrun_two_processes_merge_to_the_single_process_parquet(tiny_dataset, tiny_vlm_dir, tmp_path):
    """``torchrun --nproc-per-node=2 scripts/score.py``: two concurrent processes split the episodes by RANK /
    WORLD_SIZE, the last to finish merges, and the result equals one process scoring everything."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)
    args = [str(repo / "scripts" / "score.py"), f"dataset.root={tiny_dataset}", "scorer=topreward_tiny",
            f"scorer.model={tiny_vlm_dir}", "scorer.num_anchors=4", "progress_bar=false"]  # fmt: skip
    single, multi = tmp_path / "single.parquet", tmp_path / "multi.parquet"
    subprocess.run(
        [sys.executable, *args, f"out={single}"], check=True, cwd=repo, env=env, capture_output=True
    )
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--master-port=29517",
         *args, f"out={multi}"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _arrays(single), _arrays(multi)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
