"""GVL baseline: sampling, parsing and chronological reordering with hand-made generations; tiny model end to end."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.reward.gvl import GvlScorer, chronological, evaluate_text, parse_values, sample_frames
from tests.reward.conftest import random_frames


def test_sample_frames_seeded_sorted_without_replacement():
    idx, order = sample_frames(50, episode_index=3)
    assert len(idx) == 15 and np.all(np.diff(idx) > 0) and idx.min() >= 1 and idx.max() <= 49
    assert sorted(order.tolist()) == list(range(15))
    idx2, order2 = sample_frames(50, episode_index=3)
    assert np.array_equal(idx, idx2) and np.array_equal(order, order2)
    idx3, _ = sample_frames(50, episode_index=4)
    assert not np.array_equal(idx, idx3)
    # PAPER.md §3: the shuffle is seeded with 42 + episode index (the authors' rule, so results compare)
    rng = np.random.default_rng(42 + 3)
    expected = np.sort(rng.choice(np.arange(1, 50), size=15, replace=False))
    assert idx.tolist() == expected.tolist() and order.tolist() == rng.permutation(15).tolist()
    short, _ = sample_frames(6, episode_index=0)  # fewer than 16 frames: every frame 1..T-1
    assert short.tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="at least 2 frames"):
        sample_frames(1, episode_index=0)


def test_parse_and_reorder_hand_made_output():
    idx = np.array([2, 5, 9, 12])
    order = np.array([2, 0, 3, 1])  # shown: frame 9, frame 2, frame 12, frame 5
    text = (
        "Frame 1: Task Completion Percentages: 60%\nFrame 2: Task Completion Percentages: 10.5 %\n"
        "Frame 3: Task Completion Percentages: 90%\nFrame 4: Task Completion Percentages: -5%"
    )
    assert parse_values(text, 4).tolist() == [60.0, 10.5, 90.0, -5.0]
    assert chronological(np.array([60.0, 10.5, 90.0, -5.0]), order).tolist() == [10.5, -5.0, 60.0, 90.0]
    r = evaluate_text(text, idx, order)
    assert r.parse_ok and r.values.tolist() == [10.5, -5.0, 60.0, 90.0]
    assert r.voc == pytest.approx(0.8)  # ranks 2,1,3,4 vs 1,2,3,4: ρ = 1 − 6·2/(4·15)


def test_perfect_and_constant_and_failed_generations():
    idx, order = sample_frames(40, episode_index=1)
    truth = np.linspace(5, 100, len(idx))  # chronological
    shown = truth[order]
    text = "".join(f"Frame {i + 1}: Task Completion Percentages: {v:.1f}%\n" for i, v in enumerate(shown))
    assert evaluate_text(text, idx, order).voc == pytest.approx(1.0)
    flat = "".join(f"Frame {i + 1}: Task Completion Percentages: 50%\n" for i in range(len(idx)))
    assert evaluate_text(flat, idx, order).voc == 0.0 and evaluate_text(flat, idx, order).parse_ok
    short = "Frame 1: Task Completion Percentages: 50%"
    bad = evaluate_text(short, idx, order)
    assert not bad.parse_ok and bad.voc == 0.0 and np.isnan(bad.values).all() and "found 1" in bad.error


def test_scorer_with_fake_generate_shows_initial_scene_then_shuffled_frames():
    seen = {}
    frames = np.zeros((30, 8, 8, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(30)  # frame id encoded in a pixel

    def fake_generate(images, instruction, n):
        ids = [int(im[0, 0, 0]) for im in images]  # images are (3, h, w)
        seen.update(ids=ids, instruction=instruction, n=n)
        # a perfect model: progress = frame id, in the order shown
        return "\n".join(f"Frame {i}: Task Completion Percentages: {v}%" for i, v in enumerate(ids[1:], 1))

    r = GvlScorer(generate_fn=fake_generate).score_episode(
        frames, instruction="open the drawer", episode_index=2
    )
    idx, order = sample_frames(30, episode_index=2)
    assert seen["n"] == 15 and seen["instruction"] == "open the drawer"
    assert seen["ids"][0] == idx[0] and seen["ids"][1:] == idx[order].tolist()
    assert r.parse_ok and r.values.tolist() == idx.tolist() and r.voc == pytest.approx(1.0)


def test_tiny_model_end_to_end_counts_parse_failure(tiny_vlm_dir):
    g = GvlScorer(str(tiny_vlm_dir), tokens_per_frame=2)
    r = g.score_episode(random_frames(20, 32, 32), instruction="push the block", episode_index=0)
    assert isinstance(r.text, str) and len(r.frame_indices) == 15
    # random weights never produce 15 well-formed percentages: counted as a failure, VOC 0, no crash
    assert not r.parse_ok and r.voc == 0.0 and r.error
    with pytest.raises(ValueError, match="task"):
        g.score_episode(random_frames(20, 32, 32), instruction="", episode_index=0)
