"""The cached prefix sweep equals the naive one (one full forward per prefix) in fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rabc.reward.prefix_cache import SweepStats
from tests.reward.conftest import random_frames


def _clip(scorer, frames, fps, task="push the puck to the goal"):
    text = scorer.prompt(task)
    return text, scorer.prepare_clip(torch.as_tensor(frames).permute(0, 3, 1, 2), fps, text)


@pytest.mark.parametrize(("n", "height", "width"), [(9, 64, 64), (12, 64, 96)])
def test_cached_equals_naive_every_prefix(scorer, n, height, width):
    text, clip = _clip(scorer, random_frames(n, height, width, seed=n), fps=10.0)
    lengths = np.arange(1, n + 1)  # k = 1, odd and even prefixes, the full episode
    naive = scorer.prefix_logprobs(text, clip, lengths, cached=False)
    cached = scorer.prefix_logprobs(text, clip, lengths, cached=True)
    assert np.abs(naive - cached).max() <= 1e-5
    assert np.isfinite(cached).all()
    assert np.ptp(naive[:, 0]) > 0  # prefixes really differ; the test is not comparing constants


def test_cached_equals_naive_on_subsampled_frames(scorer):
    frames = random_frames(40, seed=4)
    text = scorer.prompt("open the drawer")
    video = torch.as_tensor(frames).permute(0, 3, 1, 2)
    scorer_clip = scorer.prepare_clip(video, 30.0, text)
    from rabc.reward.adapters import VideoClip

    idx = np.array([0, 3, 7, 12, 20, 21, 30, 39])  # irregular spacing: timestamps come from the indices
    clip = VideoClip(scorer_clip.frames[idx], idx, 30.0)
    lengths = np.array([1, 3, 4, 7, 8])
    naive = scorer.prefix_logprobs(text, clip, lengths, cached=False)
    cached = scorer.prefix_logprobs(text, clip, lengths, cached=True)
    assert np.abs(naive - cached).max() <= 1e-5


def test_cached_sweep_does_less_work(scorer):
    text, clip = _clip(scorer, random_frames(64, seed=1), fps=10.0)
    lengths = np.unique(np.linspace(1, 64, 15).astype(int))
    naive, cached = SweepStats(), SweepStats()
    scorer.prefix_logprobs(text, clip, lengths, naive, cached=False)
    scorer.prefix_logprobs(text, clip, lengths, cached, cached=True)
    assert cached.vision_calls == 1 and naive.vision_calls == len(lengths)
    assert naive.visual_tokens / cached.visual_tokens > 4
    assert naive.lm_tokens / cached.lm_tokens > 3


def test_token_layout_matches_the_processor(scorer):
    text, clip = _clip(scorer, random_frames(7, seed=2), fps=4.0)
    size = tuple(clip.frames.shape[-2:])
    for length in (1, 2, 5, 7):
        encoded = scorer.adapter.encode(text, clip.prefix(length))
        assert encoded["input_ids"][0].tolist() == scorer.adapter.token_ids(text, clip.prefix(length), size)


@pytest.mark.parametrize("batch_size", [2, 5, 16])
def test_batched_remainders_equal_naive(tiny_vlm_dir, naive_scorer, batch_size):
    from rabc.reward.topreward import TopRewardScorer

    batched = TopRewardScorer(str(tiny_vlm_dir), remainder_batch_size=batch_size)
    frames = random_frames(21, seed=11)
    text, clip = _clip(naive_scorer, frames, fps=10.0)
    lengths = np.array([1, 2, 3, 6, 9, 14, 20, 21])  # mixed odd/even: some remainders carry a padded group
    naive = naive_scorer.prefix_logprobs(text, clip, lengths, cached=False)
    stats = SweepStats()
    cached = batched.prefix_logprobs(text, clip, lengths, stats)
    assert np.abs(naive - cached).max() <= 1e-5
    assert stats.lm_calls == 1 + -(-len(lengths) // batch_size)
