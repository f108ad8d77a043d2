"""EMA of weights (torch AveragedModel): Diffusion Policy's warm-up decay, exact update rule, buffers copied,
checkpoint round trip, usable for evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rabc.policies import EMA, DiffusionAdapter
from tests.policies.tiny import build, make_batch


def test_decay_schedule():
    ema = EMA(nn.Linear(2, 2), power=0.75, max_decay=0.9999)
    assert ema.decay(0) == 0.0 and ema.decay(1) == 0.0
    assert ema.decay(2) == pytest.approx(1 - 2**-0.75)
    assert ema.decay(10**9) == 0.9999
    later = EMA(nn.Linear(2, 2), update_after_step=5)
    assert later.decay(6) == 0.0 and later.decay(7) > 0.0
    with pytest.raises(ValueError, match="max_decay"):
        EMA(nn.Linear(2, 2), max_decay=1.0)


def test_update_rule_and_buffers():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    model[1].weight.requires_grad_(False)  # a frozen parameter stays what it is
    ema = EMA(model)
    for _ in range(2):  # decay 0, 0: plain copies
        ema.update(model)
    old = ema.averaged[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model.train()(torch.randn(8, 3))  # changes BN running stats and num_batches_tracked
    d = ema.update(model)
    assert d == pytest.approx(1 - 2**-0.75)
    torch.testing.assert_close(ema.averaged[0].weight, d * old + (1 - d) * model[0].weight)
    torch.testing.assert_close(ema.averaged[1].weight, model[1].weight)
    torch.testing.assert_close(ema.averaged[1].running_mean, model[1].running_mean)
    assert ema.averaged[1].num_batches_tracked == model[1].num_batches_tracked
    assert not any(p.requires_grad for p in ema.averaged.parameters())

    restored = EMA(model)
    restored.load_state_dict(ema.state_dict())
    assert restored.optimization_step == 3
    torch.testing.assert_close(restored.averaged[0].weight, ema.averaged[0].weight)
    # resumed and uninterrupted averages take the same next step
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert restored.update(model) == ema.update(model) == pytest.approx(1 - 3**-0.75)
    torch.testing.assert_close(restored.averaged[0].weight, ema.averaged[0].weight)
    with pytest.raises(ValueError, match="parameters"):
        ema.update(nn.Linear(3, 3))


def test_ema_of_a_diffusion_adapter_evaluates():
    adapter, _, _ = build("diffusion")
    ema = EMA(adapter)
    opt = torch.optim.Adam(adapter.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        adapter.compute_loss(make_batch(adapter, batch_size=4)).mean().backward()
        opt.step()
        ema.update(adapter)
    assert isinstance(ema.averaged, DiffusionAdapter)
    p_ema = torch.cat([p.flatten() for p in ema.averaged.parameters()])
    p_now = torch.cat([p.flatten() for p in adapter.parameters()])
    assert not torch.allclose(p_ema, p_now)  # lags behind the trained weights
    obs = {k: v for k, v in make_batch(adapter, batch_size=2).items() if k.startswith("observation")}
    ema.averaged.reset()
    assert ema.averaged.predict_action(obs).shape == (2, 4, 4)
