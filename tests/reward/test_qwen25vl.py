"""The Qwen2.5-VL adapter on a tiny random Qwen2.5-VL: loading, layout, explicit frame rate, scoring."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from rabc.reward.adapters import Qwen25VLAdapter, VideoClip
from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer
from tests.reward.conftest import random_frames


@pytest.fixture(scope="module")
def qwen25_dir(tmp_path_factory):
    return make_tiny_vlm(tmp_path_factory.mktemp("tiny_qwen25_vl"), family="qwen2_5_vl")


def test_scores_through_the_qwen25_adapter(qwen25_dir, caplog):
    with caplog.at_level(logging.INFO, logger="rabc.reward.topreward"):
        sc = TopRewardScorer(str(qwen25_dir))
    assert isinstance(sc.adapter, Qwen25VLAdapter) and not sc.prefix_cache
    assert "no cached prefix sweep" in caplog.text
    s = sc.score_episode(random_frames(9, 56, 84), fps=10.0, instruction="open the drawer")
    assert s.frame_size == (56, 84) and s.stats["sweep"] == "naive"
    assert np.isfinite(s.logp_true).all() and s.progress.shape == (9,)
    assert np.ptp(s.logp_true) > 0


def test_layout_and_frame_rate(qwen25_dir):
    sc = TopRewardScorer(str(qwen25_dir))
    text = sc.prompt("open the drawer")
    video = torch.as_tensor(random_frames(7, 56, 56)).permute(0, 3, 1, 2)
    for fps in (5.0, 30.0):
        clip = sc.prepare_clip(video, fps, text)
        for length in (1, 4, 7):
            encoded = sc.adapter.encode(text, clip.prefix(length))
            assert encoded["input_ids"][0].tolist() == sc.adapter.token_ids(
                text, clip.prefix(length), (56, 56)
            )
            # temporal M-RoPE spacing comes from the real frame rate: 2 frames per group / fps seconds
            assert encoded["second_per_grid_ts"].tolist() == pytest.approx([2.0 / fps])
    sub = VideoClip(video[:4], np.array([0, 10, 20, 30]), 10.0)  # every 10th frame of a 10 fps episode
    assert sc.adapter.encode(text, sub)["second_per_grid_ts"].tolist() == pytest.approx([2.0])
