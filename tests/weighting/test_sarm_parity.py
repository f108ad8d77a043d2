"""SARM Eq. 8–9: our vectorised per-frame weights equal lerobot 0.6.1's RABCWeights on the same parquet."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from lerobot.rewards.sarm.rabc import RABCWeights

from rabc.progress import ProgressTable, write_progress
from rabc.weighting import Sarm
from tests.weighting.synth import synth_progress


def lerobot_per_frame(rw: RABCWeights, index: np.ndarray) -> np.ndarray:
    """lerobot's per-frame weights before its per-batch renormalisation (its own delta and Eq. 8–9 code)."""
    deltas = np.array([rw._compute_delta(int(i)) for i in index], dtype=np.float32)
    return rw._compute_weights(deltas)


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_sarm_matches_lerobot_rabc_weights(tmp_path, chunk):
    t = synth_progress([80, 35, 120, 3, 60], seed=chunk, start_index=1000, noise=0.08)
    path = tmp_path / "progress.parquet"
    write_progress(path, t)
    rw = RABCWeights(path, chunk_size=chunk, device=torch.device("cpu"))
    fps = 10.0
    ours = Sarm(horizon_s=chunk / fps)(t, fps)
    assert ours.info["horizon_frames"] == chunk
    assert ours.info["delta_mean"] == pytest.approx(rw.delta_mean, abs=1e-12)
    assert ours.info["delta_std"] == pytest.approx(rw.delta_std, abs=1e-12)
    ref = lerobot_per_frame(rw, t.index)
    assert 0 < (ref == 0).sum() and 0 < ((ref > 0) & (ref < 1)).sum()  # all three branches of Eq. 9 exercised
    np.testing.assert_allclose(ours.weight, ref, rtol=0, atol=1e-7)
    # lerobot's per-batch weights are ours renormalised to sum to the batch size
    batch = t.index[::3]
    lw, _ = rw.compute_batch_weights({"index": torch.as_tensor(batch)})
    w = ours.weight[::3].astype(np.float64)
    np.testing.assert_allclose(lw.numpy(), w * len(w) / (w.sum() + rw.epsilon), rtol=1e-5)


def test_sarm_nan_zero_policy_matches_lerobot_on_valid_frames(tmp_path, caplog):
    t = synth_progress([40, 30, 50], seed=11, noise=0.1)
    p = t.progress.copy()
    p[[5, 41, 42, 100]] = np.nan
    t = ProgressTable(t.index, t.episode_index, t.frame_index, p)
    path = tmp_path / "progress.parquet"
    write_progress(path, t)
    rw = RABCWeights(path, chunk_size=4, device=torch.device("cpu"))
    ref = lerobot_per_frame(rw, t.index)
    with caplog.at_level(logging.WARNING):
        ours = Sarm(horizon_s=0.4, nan_policy="zero")(t, 10.0)
    assert "4 NaN" in caplog.text
    invalid = ~np.isfinite(ours.advantage)
    assert invalid.sum() == ours.info["invalid_frames"] > 4  # NaN frames and frames whose t+H is NaN
    np.testing.assert_allclose(ours.weight[~invalid], ref[~invalid], atol=1e-7)
    # lerobot silently trains on them at full weight; the configured policy gives 0
    assert np.all(ref[invalid] == 1.0) and np.all(ours.weight[invalid] == 0.0)
    with pytest.raises(ValueError, match="NaN"):
        Sarm(horizon_s=0.4)(t, 10.0)
