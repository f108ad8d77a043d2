"""The weights command (rabc.app.weights, scripts/compute_weights.py) end to end: Hydra config group, dataset labels for diagnostics, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rabc.io import RabcFileError
from rabc.progress import write_progress
from rabc.weighting import WeightTable
from tests.weighting.synth import synth_progress

REPO = Path(__file__).resolve().parents[2]


def fake_dataset(root: Path, t, quality, success) -> None:
    """The parts of a LeRobot v3 dataset the script reads: data parquet files and meta/info.json."""
    half = len(t) // 2
    for i, sl in enumerate([slice(0, half), slice(half, None)]):
        f = root / "data" / "chunk-000" / f"file-{i:03d}.parquet"
        f.parent.mkdir(parents=True, exist_ok=True)
        cols = {"index": t.index[sl], "episode_index": t.episode_index[sl]}
        cols |= {"quality": quality[sl], "success": success[sl]}
        pq.write_table(pa.table(cols), f)
    (root / "meta").mkdir(exist_ok=True)
    (root / "meta" / "info.json").write_text(json.dumps(info_json(len(t))))


def info_json(total_frames: int) -> dict:
    """The keys of meta/info.json that rabc.data.dataset_info requires."""
    return {"total_frames": total_frames, "fps": 10, "total_episodes": 3, "features": {}, "data_path": "x"}


@pytest.fixture
def inputs(tmp_path):
    t = synth_progress([30, 40, 25, 35], seed=9)
    write_progress(tmp_path / "progress.parquet", t)
    ep_quality = np.array([0, 1, 2, 0])
    ep_success = np.array([True, True, False, True])
    lengths = np.bincount(t.episode_index)
    fake_dataset(tmp_path / "ds", t, np.repeat(ep_quality, lengths), np.repeat(ep_success, lengths))
    return tmp_path, t


def _run(cwd: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "RABC_DEBUG"}
    env = {**base, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = [sys.executable, str(REPO / "scripts" / "compute_weights.py"), *overrides]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_cli_writes_weights_diagnostics_and_histogram(inputs):
    tmp, t = inputs
    out = tmp / "w" / "weights.parquet"
    proc = _run(
        tmp,
        f"progress={tmp / 'progress.parquet'}",
        "weighting=top_awr_tempered",
        "weighting.horizon_s=0.5",
        f"out={out}",
        f"dataset_root={tmp / 'ds'}",
    )
    assert proc.returncode == 0, proc.stderr
    assert "mean weight by quality" in proc.stdout and "horizon 0.5 s = 5 frames" in proc.stdout
    wt = WeightTable.load(out, expect_num_frames=len(t), expect_fingerprint="f" * 64)
    assert wt.metadata["name"] == "top_awr_tempered" and wt.metadata["params"]["horizon_s"] == 0.5
    diag = wt.metadata["diagnostics"]
    assert set(diag["by_quality"]) == {"0", "1", "2"} and set(diag["by_success"]) == {"True", "False"}
    assert diag["by_quality"]["2"]["frames"] == 25
    assert (out.parent / "weights_hist.png").is_file()
    assert not list(tmp.glob("*.log")) and not (tmp / "outputs").exists()  # no Hydra run clutter


def test_run_episode_scheme_uses_dataset_success(inputs, compose_cfg):
    from rabc.app import weights

    tmp, t = inputs
    base = [f"progress={tmp / 'progress.parquet'}", f"out={tmp / 'e.parquet'}", "histogram=false"]
    cfg = compose_cfg("compute_weights", [*base, "weighting=episode", f"dataset_root={tmp / 'ds'}"])
    res = weights.run(cfg)
    assert res.out == tmp / "e.parquet" and res.scheme == "episode" and res.histogram is None
    w = WeightTable.load(tmp / "e.parquet")
    np.testing.assert_array_equal(w.weight, (t.episode_index != 2).astype(np.float32))
    assert w.metadata["diagnostics"] == res.meta["diagnostics"]
    # a dataset with another frame count is refused
    info = tmp / "ds" / "meta" / "info.json"
    info.write_text(json.dumps(info_json(len(t) + 1)))
    with pytest.raises(RabcFileError, match="info.json says"):
        weights.run(cfg)
    with pytest.raises(ValueError, match="success labels|success column"):
        weights.run(compose_cfg("compute_weights", [*base, "weighting=episode"]))


def test_cli_user_error_is_one_line(inputs):
    tmp, _ = inputs
    proc = _run(tmp, f"progress={tmp / 'missing.parquet'}", f"out={tmp / 'w.parquet'}", "histogram=false")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()  # the progress bar (closed first), then the one error line
    assert lines[-1] == f"error: {tmp / 'missing.parquet'}: file not found", proc.stderr
    assert proc.stderr.count("error: ") == 1 and "Traceback" not in proc.stderr
    debug = _run(
        tmp, f"progress={tmp / 'missing.parquet'}", f"out={tmp / 'w.parquet'}", env={"RABC_DEBUG": "1"}
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_cli_help_says_what_it_does(tmp_path):
    proc = _run(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Per-frame weights from a progress parquet" in proc.stdout and "Example:" in proc.stdout
    assert "weighting: " in proc.stdout  # the config groups
