"""The published Qwen2.5-VL and Qwen3-VL chat templates, on tiny random models of each family, in both prompt modes.

Qwen3-VL: prompt ids and log p identical to lerobot 0.6.1's TOPReward processor. Qwen2.5-VL: its template opens
with a default system turn, so cutting at the *first* end-of-turn token would drop the video slot; the prompt keeps
the system turn and the video, and scoring runs.
"""

from __future__ import annotations

from pathlib import Path

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

from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer
from tests.reward.conftest import random_frames

FIXTURES = Path(__file__).parent / "fixtures"
TASK = "put the cup on the plate"
MODES = [False, True]  # default prompt, Table 5 chat-template prompt


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory):
    template = (FIXTURES / "qwen3_vl_chat_template.jinja").read_text()
    return make_tiny_vlm(tmp_path_factory.mktemp("qwen3_real_template"), chat_template=template)


@pytest.fixture(scope="module")
def qwen25_dir(tmp_path_factory):
    template = (FIXTURES / "qwen2_5_vl_chat_template.jinja").read_text()
    return make_tiny_vlm(
        tmp_path_factory.mktemp("qwen25_real_template"), family="qwen2_5_vl", chat_template=template
    )


@pytest.mark.parametrize("chat_template", MODES)
def test_qwen3vl_real_template_matches_lerobot(qwen3_dir, chat_template):
    scorer = TopRewardScorer(str(qwen3_dir), chat_template=chat_template)
    cfg = TOPRewardConfig(vlm_name=str(qwen3_dir), device="cpu", torch_dtype="float32")
    encoder = TOPRewardEncoderProcessorStep(
        vlm_name=str(qwen3_dir), image_key=cfg.image_key, max_frames=None, add_chat_template=chat_template
    )
    model = TOPRewardModel(cfg)
    video = torch.as_tensor(random_frames(7, seed=3)).permute(0, 3, 1, 2)
    text = scorer.prompt(TASK)
    assert scorer.adapter.processor.chat_template == (FIXTURES / "qwen3_vl_chat_template.jinja").read_text()
    clip = scorer.prepare_clip(video, 2.0, text)  # lerobot claims 2 fps: inputs coincide there
    lengths = np.array([1, 4, 7])
    naive = scorer.prefix_logprobs(text, clip, lengths, cached=False)[:, 0]
    cached = scorer.prefix_logprobs(text, clip, lengths, cached=True)[:, 0]
    for k, length in enumerate(int(x) for x in lengths):
        transition = {
            TransitionKey.OBSERVATION: {cfg.image_key: video[:length].unsqueeze(0)},
            TransitionKey.COMPLEMENTARY_DATA: {"task": TASK},
        }
        obs = encoder(transition)[TransitionKey.OBSERVATION]
        ours = scorer.adapter.encode(text, clip.prefix(length))
        assert obs[f"{TOPREWARD_FEATURE_PREFIX}input_ids"][0].tolist() == ours["input_ids"][0].tolist()
        reward = float(model.compute_reward(obs).item())
        assert abs(reward - naive[k]) <= 1e-6 and abs(reward - cached[k]) <= 1e-5


@pytest.mark.parametrize("chat_template", MODES)
def test_qwen25vl_real_template_scores(qwen25_dir, chat_template):
    scorer = TopRewardScorer(str(qwen25_dir), chat_template=chat_template)
    text = scorer.prompt(TASK)
    processor = scorer.adapter.processor
    assert processor.chat_template == (FIXTURES / "qwen2_5_vl_chat_template.jinja").read_text()
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert text.count(processor.video_token) == 1 and text.endswith("True")
    if not chat_template:
        # the user turn stays open: no end-of-turn token after the video, the instruction follows the prefix
        after = text[text.index(processor.video_token) :]
        assert processor.tokenizer.eos_token not in after
        assert after.endswith(
            f"{TASK} Decide whether the above statement is True or not. The answer is: True"
        )
    s = scorer.score_episode(random_frames(9, 56, 56), fps=10.0, instruction=TASK)
    assert s.logp_true.shape == (9,) and np.isfinite(s.logp_true).all() and np.isfinite(s.progress).all()


def test_first_eos_cut_would_drop_the_qwen25_video(qwen25_dir):
    """The bug this guards against: Qwen2.5-VL's first end-of-turn token closes the system turn."""
    processor = TopRewardScorer(str(qwen25_dir)).adapter.processor
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "x"}]}]
    head = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert processor.video_token not in head.split(processor.tokenizer.eos_token)[0]
