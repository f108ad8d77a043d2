"""Parity with lerobot's own ``forward`` loss under the same seed (same noise, timesteps, dropout, latents)."""

from __future__ import annotations

import pytest
import torch
from lerobot.configs import FeatureType, PolicyFeature

from rabc.policies import make_policy
from rabc.types import ACTION
from tests.policies.tiny import TINY, build, features, make_batch, pad_tail, stats

REL = 1e-6


def _close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    rel = (ours - theirs).abs() / theirs.abs().clamp_min(1e-12)
    assert rel.item() <= REL, f"ours={ours.item():.9g} lerobot={theirs.item():.9g} rel={rel.item():.3g}"


def _lerobot_loss(adapter, batch, seed):
    torch.manual_seed(seed)
    loss, _ = adapter.policy.forward(dict(batch))
    return loss


def _ours(adapter, batch, seed):
    torch.manual_seed(seed)
    return adapter.compute_loss(dict(batch))


@pytest.mark.parametrize("train", [True, False])
def test_act_mean_equals_lerobot_forward(train):
    adapter, _, _ = build("act")
    adapter.train(train)
    batch = make_batch(adapter, batch_size=8)
    per_sample = _ours(adapter, batch, seed=5)
    assert per_sample.shape == (8,)
    _close(per_sample.mean(), _lerobot_loss(adapter, batch, seed=5))


def test_act_terms_match_lerobot_loss_dict():
    adapter, _, _ = build("act")
    adapter.train()
    batch = make_batch(adapter, batch_size=8)
    torch.manual_seed(2)
    terms = adapter.compute_loss_terms(batch)
    torch.manual_seed(2)
    _, loss_dict = adapter.policy.forward(batch)
    assert terms["kld"].gt(0).all()
    assert abs(terms["l1"].mean().item() - loss_dict["l1_loss"]) <= REL * loss_dict["l1_loss"]
    assert abs(terms["kld"].mean().item() - loss_dict["kld_loss"]) <= REL * loss_dict["kld_loss"]


def test_act_padding_definition():
    """With unequal padding lerobot pools valid elements over the batch; the valid-count weighted mean of our
    per-sample L1 is exactly that, while the plain mean (our definition) differs."""
    adapter, _, _ = build("act")
    adapter.eval()  # L1 only, deterministic
    batch = pad_tail(make_batch(adapter, batch_size=4), [0, 2, 5, 7])
    terms = adapter.compute_loss_terms(batch)
    lerobot = _lerobot_loss(adapter, batch, seed=0)
    pooled = (terms["l1"] * terms["n_valid"]).sum() / terms["n_valid"].sum()
    _close(pooled, lerobot)
    assert terms["n_valid"].tolist() == [32, 24, 12, 4]
    assert abs(terms["l1"].mean().item() - lerobot.item()) > 1e-4


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
def test_diffusion_mean_equals_lerobot_forward(prediction_type):
    adapter, _, _ = build("diffusion", prediction_type=prediction_type)
    adapter.train()
    batch = make_batch(adapter, batch_size=8)
    per_sample = _ours(adapter, batch, seed=11)
    assert per_sample.shape == (8,)
    _close(per_sample.mean(), _lerobot_loss(adapter, batch, seed=11))


def test_diffusion_padding_matches_lerobot_masked_loss():
    adapter, _, _ = build("diffusion", do_mask_loss_for_padding=True)
    adapter.train()
    batch = pad_tail(make_batch(adapter, batch_size=4), [0, 1, 3, 6])
    per_sample = _ours(adapter, batch, seed=3)
    n_valid = (~batch["action_is_pad"]).sum(1).float()
    _close((per_sample * n_valid).sum() / n_valid.sum(), _lerobot_loss(adapter, batch, seed=3))


@pytest.mark.parametrize("name", ["act", "diffusion"])
def test_parity_with_camera(name):
    """Cameras go through the same stacking as lerobot's forward (and Diffusion's random crop draws first)."""
    inputs, outputs = features()
    inputs["observation.images.corner"] = PolicyFeature(FeatureType.VISUAL, (3, 32, 32))
    st = stats()
    st["observation.images.corner"] = {k: torch.full((3, 1, 1), v) for k, v in (("mean", 0.5), ("std", 0.2))}
    extra = {"crop_shape": (28, 28), "use_group_norm": True} if name == "diffusion" else {}
    torch.manual_seed(0)
    adapter, _, _ = make_policy(
        name, input_features=inputs, output_features=outputs, dataset_stats=st, use_images=True,
        **TINY[name], **extra,
    )  # fmt: skip
    adapter.train()
    batch = make_batch(adapter, batch_size=2)
    lead = batch[ACTION].shape[:1] + ((adapter.config.n_obs_steps,) if name == "diffusion" else ())
    batch["observation.images.corner"] = torch.rand(
        *lead, 3, 32, 32, generator=torch.Generator().manual_seed(0)
    )
    _close(_ours(adapter, batch, seed=4).mean(), _lerobot_loss(adapter, batch, seed=4))
