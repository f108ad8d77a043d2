"""Adapters over lerobot policies exposing ``compute_loss(batch) -> (B,)`` (rabc.types.PerSampleLossPolicy)."""

from rabc.policies.act import ACTAdapter
from rabc.policies.base import PolicyAdapter, edge_pad_actions, masked_mean_per_sample
from rabc.policies.diffusion import DiffusionAdapter
from rabc.policies.ema import EMA
from rabc.policies.factory import build_config, load_pretrained, make_policy, wrap_policy
from rabc.policies.generic import ReductionNoneAdapter, supports_reduction_none

__all__ = [
    "ACTAdapter",
    "DiffusionAdapter",
    "EMA",
    "PolicyAdapter",
    "ReductionNoneAdapter",
    "build_config",
    "edge_pad_actions",
    "load_pretrained",
    "make_policy",
    "masked_mean_per_sample",
    "supports_reduction_none",
    "wrap_policy",
]
