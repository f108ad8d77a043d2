"""Oracle and random reference scorers through the labeller, and the score.py CLI on them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rabc.data import episode_table
from rabc.io import RabcFileError
from rabc.progress import read_progress
from rabc.reward.baselines import OracleScorer, RandomScorer
from rabc.reward.labeller import label_dataset

REPO = Path(__file__).resolve().parents[2]


def test_oracle_scorer_reproduces_the_oracle_parquet(tiny_dataset, tmp_path):
    out = tmp_path / "oracle.parquet"
    t = label_dataset(
        tiny_dataset, OracleScorer(tiny_dataset), out, scorer_name="oracle", show_progress=False
    )
    ref = read_progress(Path(tiny_dataset) / "progress" / "oracle.parquet")
    np.testing.assert_array_equal(t.index, ref.index)
    np.testing.assert_array_equal(t.progress, ref.progress)
    assert np.isnan(t.extra["logp_true"]).all() and t.provenance["scorer_class"] == "OracleScorer"


def test_oracle_scorer_falls_back_to_the_dataset_column_and_names_missing_episodes(tiny_dataset, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    os.symlink(Path(tiny_dataset) / "data", ds / "data", target_is_directory=True)
    scorer = OracleScorer(ds)  # no progress/oracle.parquet here: reads data/*/progress_oracle
    ref = read_progress(Path(tiny_dataset) / "progress" / "oracle.parquet")
    n0 = int((ref.episode_index == 0).sum())
    s = scorer.score_episode(np.zeros((n0, 1, 1, 3)), fps=80.0, instruction="", episode_index=0)
    np.testing.assert_array_equal(s.progress, ref.progress[ref.episode_index == 0])
    with pytest.raises(RabcFileError, match="episode 999"):
        scorer.score_episode(np.zeros((5, 1, 1, 3)), fps=80.0, episode_index=999)


def test_random_scorer_is_seeded_per_episode_and_normalised():
    a, b = RandomScorer(seed=3, num_anchors=5), RandomScorer(seed=3, num_anchors=5)
    x = a.score_episode(np.zeros((40, 1, 1, 3)), fps=10.0, episode_index=7)
    a.score_episode(np.zeros((40, 1, 1, 3)), fps=10.0, episode_index=1)  # order does not matter
    y = b.score_episode(np.zeros((40, 1, 1, 3)), fps=10.0, episode_index=7)
    z = b.score_episode(np.zeros((40, 1, 1, 3)), fps=10.0, episode_index=8)
    np.testing.assert_array_equal(x.progress, y.progress)
    assert not np.array_equal(x.progress, z.progress)
    assert x.progress.shape == (40,) and x.progress.min() == 0.0 and x.progress.max() == 1.0
    assert x.anchor_frames.tolist() == [0, 9, 19, 29, 39]


def test_cli_random_scorer_with_shards_and_merge_only(tiny_dataset, tmp_path):
    out = tmp_path / "random.parquet"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None), env.pop("WORLD_SIZE", None)
    base = [
        sys.executable,
        str(REPO / "scripts" / "score.py"),
        f"dataset.root={tiny_dataset}",
        "scorer=random",
    ]
    cmd = [*base, f"out={out}", "shard=0/2", "merge=false", "progress_bar=false"]
    subprocess.run(cmd, check=True, cwd=REPO, env=env, capture_output=True)
    assert not out.exists()
    r = subprocess.run(
        [*base, f"out={out}", "merge_only=true"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert r.returncode != 0 and "not scored yet" in r.stderr + r.stdout
    subprocess.run([*base, f"out={out}", "shard=1/2", "progress_bar=false"], check=True, cwd=REPO, env=env)
    t = read_progress(out)
    assert len(t) == int(episode_table(tiny_dataset)["length"].sum())
    assert t.provenance["scorer"] == "random" and t.provenance["seed"] == 0
