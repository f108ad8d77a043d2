"""The tiny offline Qwen3-VL loads through the real transformers classes and matches Qwen's conventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    Qwen2Tokenizer,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from rabc.reward.tiny import QWEN_SPECIAL_TOKENS


def test_loads_with_real_classes(tiny_vlm_dir):
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir)
    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    assert isinstance(model, Qwen3VLForConditionalGeneration)
    assert isinstance(processor, Qwen3VLProcessor)
    assert isinstance(processor.tokenizer, Qwen2Tokenizer)
    assert isinstance(processor.video_processor, Qwen3VLVideoProcessor)
    assert 150_000 < sum(p.numel() for p in model.parameters()) < 400_000


def test_special_token_ids_match_tokenizer(tiny_vlm_dir):
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir)
    tok = AutoProcessor.from_pretrained(tiny_vlm_dir).tokenizer
    cfg = model.config
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
    assert tok.eos_token == "<|im_end|>"
    for special in QWEN_SPECIAL_TOKENS:  # each special token is one token, never split
        assert tok.encode(special, add_special_tokens=False) == [tok.convert_tokens_to_ids(special)]
    for word in (" True", " False", "True", "False"):
        assert len(tok.encode(word, add_special_tokens=False)) == 1
    assert cfg.text_config.vocab_size == len(tok)


def test_chat_template_and_no_upscaling(tiny_vlm_dir):
    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "hi"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert (
        text
        == "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n"
    )
    frames = torch.zeros(4, 3, 64, 96, dtype=torch.uint8)
    out = processor(
        text=[text], videos=[frames], video_metadata=[{"total_num_frames": 4, "fps": 2.0, "frames_indices": [0, 1, 2, 3]}],
        do_sample_frames=False, return_tensors="pt",
    )  # fmt: skip
    # 64x96 frames stay 64x96 (4x6 patches of 16 px): Qwen's default minimum total pixels would upscale them
    assert out["video_grid_thw"].tolist() == [[2, 4, 6]]


def test_forward_runs_and_is_deterministic(tiny_vlm_dir):
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        a, b = model(input_ids=ids).logits, model(input_ids=ids).logits
    assert a.shape == (1, 4, model.config.text_config.vocab_size)
    assert torch.equal(a, b) and torch.isfinite(a).all()


def test_command_writes_loadable_model(tmp_path, compose_cfg):
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import MissingMandatoryValue

    from rabc.app import tiny_vlm

    res = tiny_vlm.run(
        compose_cfg("make_tiny_vlm", [f"out={tmp_path / 'm'}", "seed=3", "max_position_embeddings=4096"])
    )
    assert res.out == tmp_path / "m"
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "m")
    assert model.config.text_config.max_position_embeddings == 4096
    with pytest.raises(MissingMandatoryValue):
        tiny_vlm.run(compose_cfg("make_tiny_vlm", ["seed=1"]))  # out= is required
    with pytest.raises(ConfigCompositionException):
        compose_cfg("make_tiny_vlm", ["out=x", "colour=red"])


def test_seed_changes_weights(tmp_path, tiny_vlm_dir):
    from rabc.reward.tiny import make_tiny_vlm

    other = make_tiny_vlm(tmp_path / "seed1", seed=1)
    w0 = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir).lm_head.weight
    w1 = AutoModelForImageTextToText.from_pretrained(other).lm_head.weight
    assert not np.allclose(w0.detach().numpy(), w1.detach().numpy())
