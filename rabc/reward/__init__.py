"""Frozen-VLM scorers (TOPReward), prompts, exact cached prefix sweeps, a tiny offline VLM for tests.

Nothing outside ``rabc.reward`` imports it: the progress parquet is the contract with training.
"""

from rabc.reward.adapters import ADAPTERS, Qwen3VLAdapter, Qwen25VLAdapter, VideoClip, VLMAdapter, adapter_for
from rabc.reward.prefix_cache import SweepStats, cached_prefix_logprobs
from rabc.reward.prompts import DEFAULT_PROMPT_PREFIX, DEFAULT_PROMPT_SUFFIX_TEMPLATE, build_prompt_text
from rabc.reward.topreward import (
    DEFAULT_MODEL,
    EpisodeScore,
    TopRewardScorer,
    anchor_lengths,
    dense_progress,
    minmax_normalise,
)

__all__ = [
    "ADAPTERS",
    "DEFAULT_MODEL",
    "DEFAULT_PROMPT_PREFIX",
    "DEFAULT_PROMPT_SUFFIX_TEMPLATE",
    "EpisodeScore",
    "Qwen25VLAdapter",
    "Qwen3VLAdapter",
    "SweepStats",
    "TopRewardScorer",
    "VLMAdapter",
    "VideoClip",
    "adapter_for",
    "anchor_lengths",
    "build_prompt_text",
    "cached_prefix_logprobs",
    "dense_progress",
    "minmax_normalise",
]
