"""Length-bias correction (correction="static"): the still clip's curve, scored through the same sweep, is removed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rabc.reward.topreward import TopRewardScorer, still_clip
from tests.reward.conftest import random_frames

TASK = "open the drawer"


class LengthBiased(TopRewardScorer):
    """A constructed length-biased scorer: log p + c·log(prefix length) for every clip it scores."""

    c = 0.7

    def prefix_logprobs(self, text, clip, lengths, stats=None, *, cached=None):
        out = super().prefix_logprobs(text, clip, lengths, stats, cached=cached)
        return out + self.c * np.log(np.asarray(lengths, dtype=np.float64))[:, None]


@pytest.fixture(scope="module")
def corrected(tiny_vlm_dir):
    return TopRewardScorer(str(tiny_vlm_dir), correction="static")


def test_length_bias_is_corrected_back_to_the_unbiased_curve(tiny_vlm_dir, corrected):
    frames = random_frames(12, seed=5)
    unbiased = corrected.score_episode(frames, fps=10.0, instruction=TASK)
    biased_scorer = LengthBiased(str(tiny_vlm_dir), correction="static")
    biased = biased_scorer.score_episode(frames, fps=10.0, instruction=TASK)
    raw_biased = LengthBiased(str(tiny_vlm_dir)).score_episode(frames, fps=10.0, instruction=TASK)
    # the bias is real: uncorrected, the biased scorer's progress differs from the unbiased corrected one
    assert np.abs(raw_biased.progress_anchors - unbiased.progress_anchors).max() > 1e-2
    np.testing.assert_allclose(biased.progress_anchors, unbiased.progress_anchors, rtol=0, atol=1e-5)
    np.testing.assert_allclose(biased.progress, unbiased.progress, rtol=0, atol=1e-5)
    # logp_true stays raw; the corrected curve is logp_true - logp_static
    np.testing.assert_allclose(biased.logp_true - unbiased.logp_true, 0.7 * np.log(unbiased.anchor_lengths))
    assert unbiased.logp_static is not None and raw_biased.logp_static is None


def test_still_clip_through_the_cache_equals_the_naive_sweep(corrected):
    video = torch.as_tensor(random_frames(9, seed=2)).permute(0, 3, 1, 2)
    text = corrected.prompt(TASK)
    clip = corrected.prepare_clip(video, 10.0, text)
    still = still_clip(clip)
    assert torch.equal(still.frames[-1], clip.frames[0]) and np.array_equal(still.indices, clip.indices)
    lengths = np.arange(1, 10)
    cached = corrected.prefix_logprobs(text, still, lengths, cached=True)
    naive = corrected.prefix_logprobs(text, still, lengths, cached=False)
    np.testing.assert_allclose(cached, naive, rtol=0, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_episodes_shorter_than_k_never_give_nan(corrected, n):
    s = corrected.score_episode(random_frames(n, seed=n), fps=10.0, instruction=TASK)
    assert len(s.anchor_lengths) == n and np.isfinite(s.progress).all() and s.progress.shape == (n,)
    if n == 1:  # the episode is its own still clip: corrected curve 0, progress 1 (Eq. 2, constant curve)
        assert s.logp_static is not None and s.logp_static[0] == pytest.approx(s.logp_true[0], abs=1e-6)
        assert np.all(s.progress == 1.0)


def test_unknown_correction_is_refused(tiny_vlm_dir):
    with pytest.raises(ValueError, match="unknown progress correction 'length'"):
        TopRewardScorer(str(tiny_vlm_dir), correction="length")


def test_provenance_records_the_correction(corrected):
    assert corrected.provenance()["correction"] == "static"
