"""Export in lerobot's own layout: lerobot's from_pretrained and processor loaders read it back."""

from __future__ import annotations

import pytest
import torch
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
from lerobot.policies.factory import make_pre_post_processors

from rabc.io import RabcFileError
from rabc.policies import load_pretrained
from rabc.types import ACTION, OBS_ENV_STATE, OBS_STATE
from tests.policies.tiny import build, make_batch

RAW_OBS = {OBS_STATE: torch.tensor([0.3, -0.2, 0.1, 0.9]), OBS_ENV_STATE: torch.linspace(-1, 1, 17)}


def _act(adapter, pre, post) -> torch.Tensor:
    """Raw observation → preprocessor → one action → postprocessor (lerobot's inference path)."""
    adapter.eval()
    adapter.reset()
    torch.manual_seed(0)  # Diffusion samples its initial noise
    return post(adapter.select_action(pre(dict(RAW_OBS))))


def _train_a_little(adapter):
    """Move the weights away from their init so the round trip checks trained values."""
    opt = torch.optim.Adam(adapter.parameters(), lr=1e-2)
    adapter.train()
    for _ in range(3):
        opt.zero_grad()
        adapter.compute_loss(make_batch(adapter, batch_size=4)).mean().backward()
        opt.step()


def test_act_round_trip_through_lerobot(tmp_path):
    adapter, pre, post = build("act")
    _train_a_little(adapter)
    expected = _act(adapter, pre, post)
    out = adapter.save_pretrained(tmp_path / "act", pre, post)
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "policy_preprocessor.json",
        "policy_postprocessor.json",
    } <= names

    policy = ACTPolicy.from_pretrained(out)  # lerobot's own loader
    pre2, post2 = make_pre_post_processors(policy.config, pretrained_path=str(out))
    policy.eval()
    policy.reset()
    action = post2(policy.select_action(pre2(dict(RAW_OBS))))
    assert action.shape == (1, 4)
    torch.testing.assert_close(action, expected, rtol=1e-5, atol=1e-6)
    assert policy.config.chunk_size == adapter.chunk_size


def test_diffusion_round_trip_and_load_pretrained(tmp_path):
    adapter, pre, post = build("diffusion")
    _train_a_little(adapter)
    expected = _act(adapter, pre, post)
    out = adapter.save_pretrained(tmp_path / "dp", pre, post)
    policy = DiffusionPolicy.from_pretrained(out)
    assert policy.config.horizon == 8 and policy.config.n_action_steps == 4

    loaded, pre2, post2 = load_pretrained(out)
    assert type(loaded) is type(adapter)
    torch.testing.assert_close(_act(loaded, pre2, post2), expected, rtol=1e-5, atol=1e-6)


def test_save_overwrites_atomically_and_bad_dir_is_named(tmp_path):
    adapter, pre, post = build("act")
    target = tmp_path / "ckpt"
    adapter.save_pretrained(target, pre, post)
    with torch.no_grad():
        adapter.policy.model.action_head.bias.add_(1.0)
    adapter.save_pretrained(target, pre, post)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp or old directory left behind
    reloaded = ACTPolicy.from_pretrained(target)
    torch.testing.assert_close(reloaded.model.action_head.bias, adapter.policy.model.action_head.bias)
    with pytest.raises(RabcFileError, match="not a lerobot policy directory"):
        load_pretrained(tmp_path / "missing")


def test_predict_action_chunk(tiny):
    adapter, pre, _ = tiny
    adapter.eval()
    adapter.reset()
    batch = {k: v for k, v in make_batch(adapter, batch_size=3).items() if k.startswith("observation")}
    torch.manual_seed(0)
    chunk = adapter.predict_action(batch)
    assert chunk.shape == (3, adapter.n_action_steps, 4)
    assert ACTION not in batch
