"""Our default prompt path equals lerobot 0.6.1's TOPReward (token ids, pixels, log p) where inputs coincide.

lerobot's encoder claims ``fps=2.0`` for whatever frames it is given (its labeller passes raw-fps frames), so
its timestamps are only right for 2 fps clips; we pass the episode's real frame rate. Parity is therefore
tested at fps = 2 (inputs coincide), and the difference at any other rate is asserted, not hidden.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lerobot.lerobot_types import TransitionKey
from lerobot.rewards.topreward.configuration_topreward import TOPRewardConfig
from lerobot.rewards.topreward.modeling_topreward import TOPRewardModel
from lerobot.rewards.topreward.processor_topreward import (
    TOPREWARD_FEATURE_PREFIX,
    TOPRewardEncoderProcessorStep,
)

from tests.reward.conftest import random_frames

TASK = "put the cup on the plate"


@pytest.fixture(scope="module")
def lerobot_topreward(tiny_vlm_dir):
    cfg = TOPRewardConfig(vlm_name=str(tiny_vlm_dir), device="cpu", torch_dtype="float32")
    encoder = TOPRewardEncoderProcessorStep(
        vlm_name=str(tiny_vlm_dir), image_key=cfg.image_key, max_frames=None
    )
    return cfg, TOPRewardModel(cfg), encoder


def _lerobot(lerobot_topreward, video, length):
    cfg, model, encoder = lerobot_topreward
    transition = {
        TransitionKey.OBSERVATION: {
            cfg.image_key: video[:length].unsqueeze(0)
        },  # (1, T, C, H, W) as its labeller
        TransitionKey.COMPLEMENTARY_DATA: {"task": TASK},
    }
    obs = encoder(transition)[TransitionKey.OBSERVATION]
    return obs, float(model.compute_reward(obs).item())


def test_parity_with_lerobot_topreward(lerobot_topreward, scorer):
    video = torch.as_tensor(random_frames(9, seed=7)).permute(0, 3, 1, 2)
    text = scorer.prompt(TASK)
    clip = scorer.prepare_clip(video, 2.0, text)
    lengths = np.array([1, 2, 5, 8, 9])
    ours_naive = scorer.prefix_logprobs(text, clip, lengths, cached=False)[:, 0]
    ours_cached = scorer.prefix_logprobs(text, clip, lengths, cached=True)[:, 0]
    for k, length in enumerate(lengths):
        obs, reward = _lerobot(lerobot_topreward, video, int(length))
        ours = scorer.adapter.encode(text, clip.prefix(int(length)))
        assert obs[f"{TOPREWARD_FEATURE_PREFIX}input_ids"][0].tolist() == ours["input_ids"][0].tolist()
        torch.testing.assert_close(
            obs[f"{TOPREWARD_FEATURE_PREFIX}pixel_values_videos"], ours["pixel_values_videos"]
        )
        assert abs(reward - ours_naive[k]) <= 1e-6
        assert abs(reward - ours_cached[k]) <= 1e-5


def test_lerobot_timestamps_are_wrong_off_2fps(lerobot_topreward, scorer):
    video = torch.as_tensor(random_frames(4, seed=8)).permute(0, 3, 1, 2)
    obs, _ = _lerobot(lerobot_topreward, video, 4)
    text = scorer.prompt(TASK)
    ours = scorer.adapter.encode(text, scorer.prepare_clip(video, 10.0, text))  # a real 10 fps episode
    decode = scorer.adapter.tokenizer.decode
    assert "<1.2 seconds>" in decode(obs[f"{TOPREWARD_FEATURE_PREFIX}input_ids"][0])  # claims 2 fps
    assert "<0.2 seconds>" in decode(ours["input_ids"][0])  # frames 2, 3 of a 10 fps clip: 0.25 s
