"""Tiny ACT / Diffusion builders: the project's inputs (state 4, env state 17, action 4), CPU-sized models."""

from __future__ import annotations

import torch
from lerobot.configs import FeatureType, PolicyFeature

from rabc.policies import make_policy
from rabc.types import ACTION, ACTION_IS_PAD, OBS_ENV_STATE, OBS_STATE

STATE_DIM, ENV_DIM, ACTION_DIM = 4, 17, 4

TINY = {
    "act": dict(
        chunk_size=8, dim_model=32, n_heads=2, dim_feedforward=64, n_encoder_layers=1, n_vae_encoder_layers=1,
        latent_dim=8,
    ),
    "diffusion": dict(
        chunk_size=8, n_obs_steps=2, n_action_steps=4, down_dims=(16, 32), kernel_size=3, n_groups=4,
        diffusion_step_embed_dim=16, num_inference_steps=4,
    ),
}  # fmt: skip


def features() -> tuple[dict, dict]:
    inputs = {
        OBS_STATE: PolicyFeature(FeatureType.STATE, (STATE_DIM,)),
        OBS_ENV_STATE: PolicyFeature(FeatureType.ENV, (ENV_DIM,)),
    }
    return inputs, {ACTION: PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))}


def stats() -> dict:
    out = {}
    for key, dim in ((OBS_STATE, STATE_DIM), (OBS_ENV_STATE, ENV_DIM), (ACTION, ACTION_DIM)):
        out[key] = {
            "mean": torch.zeros(dim), "std": torch.ones(dim), "min": -torch.ones(dim), "max": torch.ones(dim),
        }  # fmt: skip
    return out


def build(name: str, **overrides):
    torch.manual_seed(0)
    inputs, outputs = features()
    kw = {**TINY[name], **overrides}
    return make_policy(name, input_features=inputs, output_features=outputs, dataset_stats=stats(), **kw)


def make_batch(adapter, batch_size: int = 6, seed: int = 1) -> dict[str, torch.Tensor]:
    """A normalised training batch for ``adapter`` without padding."""
    g = torch.Generator().manual_seed(seed)
    n_obs = adapter.config.n_obs_steps if adapter.config.type == "diffusion" else None
    obs_shape = (batch_size, n_obs) if n_obs else (batch_size,)
    t = adapter.chunk_size
    return {
        OBS_STATE: torch.randn(*obs_shape, STATE_DIM, generator=g),
        OBS_ENV_STATE: torch.randn(*obs_shape, ENV_DIM, generator=g),
        ACTION: torch.randn(batch_size, t, ACTION_DIM, generator=g),
        ACTION_IS_PAD: torch.zeros(batch_size, t, dtype=torch.bool),
    }


def pad_tail(batch: dict, n_pad: list[int]) -> dict:
    """Mark the last ``n_pad[i]`` steps of sample i as padding and edge-copy them, as LeRobotDataset does."""
    batch = dict(batch)
    action, t = batch[ACTION].clone(), batch[ACTION].shape[1]
    is_pad = torch.zeros(action.shape[:2], dtype=torch.bool)
    for i, n in enumerate(n_pad):
        if n:
            is_pad[i, t - n :] = True
            action[i, t - n :] = action[i, t - n - 1]
    batch[ACTION], batch[ACTION_IS_PAD] = action, is_pad
    return batch
