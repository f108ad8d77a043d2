"""Session-wide tiny Qwen3-VL (random weights, built offline once) and scorers over it."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory):
    return make_tiny_vlm(tmp_path_factory.mktemp("tiny_qwen3_vl"))


@pytest.fixture(scope="session")
def scorer(tiny_vlm_dir):
    return TopRewardScorer(str(tiny_vlm_dir))


@pytest.fixture(scope="session")
def naive_scorer(tiny_vlm_dir):
    return TopRewardScorer(str(tiny_vlm_dir), prefix_cache=False)


def random_frames(n: int, height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8 frames with a moving bright square, so frames differ from each other."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (n, height, width, 3), dtype=np.uint8)
    for t in range(n):
        x = int(t * (width - 16) / max(n - 1, 1))
        frames[t, 8:24, x : x + 16] = 230
    return frames
