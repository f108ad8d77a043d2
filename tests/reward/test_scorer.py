"""TopRewardScorer end to end on the tiny Qwen3-VL: outputs, timestamps, frame sizing, bad input."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch

from rabc.reward.adapters import VideoClip
from rabc.reward.topreward import TopRewardScorer, anchor_lengths
from tests.reward.conftest import random_frames


def test_score_episode_outputs(scorer):
    frames = random_frames(37)
    s = scorer.score_episode(frames, fps=10.0, instruction="pick up the red block")
    k = anchor_lengths(37)
    assert s.anchor_lengths.tolist() == k.tolist() and s.anchor_frames.tolist() == (k - 1).tolist()
    assert s.logp_true.shape == s.logp_false.shape == s.progress_anchors.shape == (15,)
    assert (s.logp_true < 0).all() and not np.allclose(s.logp_true, s.logp_false)
    assert s.progress.shape == (37,) and s.progress.dtype == np.float32
    assert s.progress_anchors.min() == 0.0 and s.progress_anchors.max() == 1.0
    np.testing.assert_allclose(s.progress[s.anchor_frames], s.progress_anchors, atol=1e-6)
    assert s.frame_size == (64, 64) and s.stats["sweep"] == "cached"


def test_cached_and_naive_scorers_agree(scorer, naive_scorer):
    frames = random_frames(23, seed=5)
    a = scorer.score_episode(frames, fps=15.0, instruction="open the drawer")
    b = naive_scorer.score_episode(frames, fps=15.0, instruction="open the drawer")
    assert np.abs(a.logp_true - b.logp_true).max() <= 1e-5
    assert np.abs(a.logp_false - b.logp_false).max() <= 1e-5
    assert b.stats["visual_tokens"] > a.stats["visual_tokens"]


def test_dense_option_scores_every_prefix(tiny_vlm_dir):
    dense = TopRewardScorer(str(tiny_vlm_dir), num_anchors=None)
    s = dense.score_episode(random_frames(6), fps=5.0, instruction="reach the target")
    assert s.anchor_lengths.tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(s.progress, s.progress_anchors, atol=1e-6)


def test_timestamps_follow_the_explicit_frame_rate(scorer):
    text = scorer.prompt("open the drawer")
    frames = torch.as_tensor(random_frames(4)).permute(0, 3, 1, 2)
    clip = VideoClip(frames, np.array([0, 10, 20, 30]), 10.0)  # frames 1 s apart: groups at 0.5 s and 2.5 s
    decoded = scorer.adapter.tokenizer.decode(scorer.adapter.encode(text, clip)["input_ids"][0])
    assert "<0.5 seconds>" in decoded and "<2.5 seconds>" in decoded
    clip = VideoClip(frames, np.arange(4), 2.0)  # 2 fps: groups at 0.25 → "0.2" and 1.25 → "1.2"
    decoded = scorer.adapter.tokenizer.decode(scorer.adapter.encode(text, clip)["input_ids"][0])
    assert "<0.2 seconds>" in decoded and "<1.2 seconds>" in decoded


def test_single_frame_is_duplicated(scorer):
    frames = random_frames(1, seed=9)
    s = scorer.score_episode(frames, fps=10.0, instruction="press the button")
    assert s.anchor_lengths.tolist() == [1] and s.progress.tolist() == [1.0]
    text = scorer.prompt("press the button")
    video = torch.as_tensor(frames).permute(0, 3, 1, 2)
    twice = VideoClip(video.repeat(2, 1, 1, 1), np.array([0, 0]), 10.0)  # the frame given twice, same time
    ref = scorer.prefix_logprobs(text, twice, np.array([2]), cached=False)[0]
    np.testing.assert_allclose([s.logp_true[0], s.logp_false[0]], ref, atol=1e-6)


def test_frames_resized_once_to_the_whole_clip_size(tiny_vlm_dir):
    sc = TopRewardScorer(str(tiny_vlm_dir), prefix_cache=False)
    sc.adapter.video_processor.size = {"shortest_edge": 2 * 32 * 32, "longest_edge": 8 * 64 * 64}
    s = sc.score_episode(random_frames(16), fps=10.0, instruction="open the drawer")
    # 16 frames at 64x64 exceed the budget → the processor's size for the whole clip, used by every prefix
    assert s.frame_size == sc.adapter.target_size(16, 64, 64) == (32, 32)
    text = sc.prompt("open the drawer")
    clip = sc.prepare_clip(torch.as_tensor(random_frames(16)).permute(0, 3, 1, 2), 10.0, text)
    grids = {
        tuple(sc.adapter.encode(text, clip.prefix(L))["video_grid_thw"][0, 1:].tolist()) for L in (2, 8, 16)
    }
    assert grids == {(2, 2)}


def test_frames_accept_channels_first_and_reject_bad_input(scorer):
    frames = random_frames(5)
    a = scorer.score_episode(frames, fps=5.0, instruction="lift the lid")
    b = scorer.score_episode(
        np.ascontiguousarray(frames.transpose(0, 3, 1, 2)), fps=5.0, instruction="lift the lid"
    )
    np.testing.assert_array_equal(a.logp_true, b.logp_true)
    with pytest.raises(ValueError, match="0 frames"):
        scorer.score_episode(frames[:0], fps=5.0, instruction="lift the lid")
    with pytest.raises(ValueError, match="uint8"):
        scorer.score_episode(frames.astype(np.float32), fps=5.0, instruction="lift the lid")
    with pytest.raises(ValueError, match="shape"):
        scorer.score_episode(frames[0], fps=5.0, instruction="lift the lid")
    with pytest.raises(ValueError, match="fps"):
        scorer.score_episode(frames, fps=0.0, instruction="lift the lid")
    for task in (None, ""):
        with pytest.raises(ValueError, match="task"):
            scorer.score_episode(frames, fps=5.0, instruction=task)


def test_context_limit_subsamples_with_a_warning(tiny_vlm_dir, caplog):
    assert TopRewardScorer(str(tiny_vlm_dir)).max_context_tokens == 32768  # the model's own limit by default
    sc = TopRewardScorer(str(tiny_vlm_dir), max_context_tokens=150)
    with caplog.at_level(logging.WARNING, logger="rabc.reward.topreward"):
        s = sc.score_episode(random_frames(40), fps=10.0, instruction="open the drawer")
    assert "exceeds the 150-token context" in caplog.text
    assert len(s.frame_indices) < 40 and s.frame_indices[0] == 0 and s.frame_indices[-1] == 39
    assert s.progress.shape == (40,) and np.isfinite(s.progress).all()
    tight = TopRewardScorer(str(tiny_vlm_dir), max_context_tokens=20)
    with pytest.raises(ValueError, match="single frame"):
        tight.score_episode(random_frames(4), fps=10.0, instruction="open the drawer")


def test_max_frames_subsamples_uniformly(tiny_vlm_dir):
    sc = TopRewardScorer(str(tiny_vlm_dir), max_frames=10)
    s = sc.score_episode(random_frames(50), fps=10.0, instruction="open the drawer")
    assert len(s.frame_indices) == 10 and s.frame_indices[-1] == 49
    assert set(s.anchor_frames) <= set(s.frame_indices) and s.progress.shape == (50,)


def test_tokenizer_without_single_true_token_is_rejected(tiny_vlm_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_vlm_dir, broken)
    spec = json.loads((broken / "tokenizer.json").read_text())
    model = spec["model"]
    model["vocab"].pop("ĠTrue")
    model["merges"] = [
        m for m in model["merges"] if "".join(m if isinstance(m, list) else m.split(" ")) != "ĠTrue"
    ]
    (broken / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="splits ' True'"):
        TopRewardScorer(str(broken))


def test_unsupported_family_is_a_clear_error():
    from rabc.reward.adapters import adapter_for

    with pytest.raises(ValueError, match="no TOPReward adapter for model_type 'llama'"):
        adapter_for("llama")
