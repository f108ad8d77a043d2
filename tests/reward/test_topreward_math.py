"""Anchors, Eq. 2 normalisation, dense interpolation and the exact prompt text (PAPER.md §1)."""

from __future__ import annotations

import numpy as np
import pytest

from rabc.reward.prompts import build_prompt_text, validate_instruction
from rabc.reward.topreward import anchor_lengths, dense_progress, minmax_normalise


@pytest.mark.parametrize("n", [1, 2, 5, 14, 15, 16, 37, 100, 256])
def test_anchor_lengths_follow_the_paper_formula(n):
    expected = sorted(set(np.linspace(1, n, min(15, n)).astype(int)))
    assert anchor_lengths(n).tolist() == expected
    assert anchor_lengths(n)[0] == 1 and anchor_lengths(n)[-1] == n


def test_dense_anchors_and_errors():
    assert anchor_lengths(6, None).tolist() == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="at least one frame"):
        anchor_lengths(0)
    with pytest.raises(ValueError, match="num_anchors"):
        anchor_lengths(5, 0)


def test_minmax_normalise_eq2():
    np.testing.assert_allclose(minmax_normalise(np.array([-3.0, -1.0, -2.0])), [0.0, 1.0, 0.5])
    assert minmax_normalise(np.array([-2.0, -2.0, -2.0])).tolist() == [1.0, 1.0, 1.0]  # constant → all ones
    assert minmax_normalise(np.array([-5.0])).tolist() == [1.0]
    with pytest.raises(ValueError, match="non-finite"):
        minmax_normalise(np.array([-1.0, np.nan]))


def test_dense_progress_interpolates_between_anchors():
    p = dense_progress(np.array([0, 4, 8]), np.array([0.0, 1.0, 0.5]), 9)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [0, 0.25, 0.5, 0.75, 1.0, 0.875, 0.75, 0.625, 0.5])


def test_default_prompt_is_the_papers(scorer):
    text = build_prompt_text(scorer.adapter.processor, "open the drawer.")
    assert text == (
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>The above video shows a robot manipulation "
        "trajectory that completes the following task: open the drawer. Decide whether the above statement is True "
        "or not. The answer is: True"
    )  # instruction verbatim (its own period kept, none added), user turn left open, no <|im_end|>


def test_chat_template_prompt_variant(scorer):
    text = build_prompt_text(scorer.adapter.processor, "open the drawer", chat_template=True)
    assert text.endswith("open the drawer Decide whether the above statement is True or not. The answer is:"
                         "<|im_end|>\n<|im_start|>assistant\nTrue")  # fmt: skip


@pytest.mark.parametrize("bad", [None, "", "   ", 3])
def test_missing_or_empty_task_is_an_error(bad):
    with pytest.raises(ValueError, match="task"):
        validate_instruction(bad)
