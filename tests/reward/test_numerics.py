"""TOPReward's numerics (PAPER.md §1, Eq. 1): log p is the fp32 log-softmax even when the model runs in bf16."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rabc.reward.topreward import TopRewardScorer
from tests.reward.conftest import random_frames


@pytest.mark.parametrize("cached", [False, True])
def test_logp_is_fp32_log_softmax_of_bf16_logits(tiny_vlm_dir, cached):
    scorer = TopRewardScorer(str(tiny_vlm_dir), dtype="bfloat16")
    assert next(scorer.adapter.model.parameters()).dtype == torch.bfloat16
    logits: list[torch.Tensor] = []
    hook = scorer.adapter.model.lm_head.register_forward_hook(lambda m, i, o: logits.append(o.detach()))
    try:
        text = scorer.prompt("open the drawer")
        clip = scorer.prepare_clip(torch.as_tensor(random_frames(5)).permute(0, 3, 1, 2), 10.0, text)
        got = scorer.prefix_logprobs(text, clip, np.array([5]), cached=cached)[
            0
        ]  # [log p(True), log p(False)]
    finally:
        hook.remove()
    last = logits[-1].reshape(-1, logits[-1].shape[-1])
    row = (
        last[-2] if not cached else last[-1]
    )  # naive: logits_to_keep=2 -> position -2; cached: that row only
    assert row.dtype == torch.bfloat16
    ids = list(scorer.answer_ids)
    fp32 = torch.log_softmax(row.float(), dim=-1)[ids].double().numpy()
    bf16 = torch.log_softmax(row, dim=-1)[ids].double().numpy()
    np.testing.assert_allclose(got, fp32, rtol=0, atol=1e-7)
    assert np.abs(got - bf16).max() > 1e-4  # a bf16 log-softmax would be measurably different
