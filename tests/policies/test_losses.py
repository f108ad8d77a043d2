"""Per-sample loss behaviour: shape, padding invariance, zero weight ⇒ zero gradient contribution."""

from __future__ import annotations

import torch

from rabc.policies import edge_pad_actions, masked_mean_per_sample
from rabc.types import ACTION, ACTION_IS_PAD, OBS_ENV_STATE
from tests.policies.tiny import make_batch, pad_tail


def _loss(adapter, batch, seed=7):
    torch.manual_seed(seed)
    return adapter.compute_loss(batch)


def test_per_sample_shape_and_grad(tiny):
    adapter, _, _ = tiny
    adapter.train()
    loss = _loss(adapter, make_batch(adapter, batch_size=5))
    assert loss.shape == (5,)
    assert torch.isfinite(loss).all() and (loss > 0).all()
    assert loss.requires_grad


def test_padding_values_do_not_change_the_loss(tiny):
    adapter, _, _ = tiny
    adapter.train()
    batch = pad_tail(make_batch(adapter, batch_size=4), [0, 3, 5, 1])
    garbage = dict(batch)
    noise = 100 * torch.randn(batch[ACTION].shape, generator=torch.Generator().manual_seed(9))
    garbage[ACTION] = torch.where(batch[ACTION_IS_PAD].unsqueeze(-1), noise, batch[ACTION])
    a, b = _loss(adapter, batch), _loss(adapter, garbage)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # ...while a valid step's value does change it (the test would pass trivially otherwise).
    changed = dict(batch)
    changed[ACTION] = batch[ACTION].clone()
    changed[ACTION][1, 0] += 3.0
    assert (_loss(adapter, changed)[1] - a[1]).abs() > 1e-4


def test_zero_weight_sample_contributes_no_gradient(tiny):
    """(ℓ·w).sum()/w.sum() with w_0 = 0: sample 0's inputs get zero gradient and its targets cannot move the
    parameter gradient; the other samples do get gradient."""
    adapter, _, _ = tiny
    adapter.train()
    w = torch.tensor([0.0, 1.0, 2.0, 0.5])

    def grads(batch):
        adapter.zero_grad()
        batch = dict(batch)
        batch[OBS_ENV_STATE] = batch[OBS_ENV_STATE].clone().requires_grad_(True)
        loss = _loss(adapter, batch)
        ((loss * w).sum() / w.sum()).backward()
        params = torch.cat([p.grad.flatten() for p in adapter.parameters() if p.grad is not None])
        return batch[OBS_ENV_STATE].grad, params

    batch = make_batch(adapter, batch_size=4)
    x_grad, p_grad = grads(batch)
    assert torch.all(x_grad[0] == 0)
    assert all(x_grad[i].abs().sum() > 0 for i in (1, 2, 3))

    moved = dict(batch)
    moved[ACTION] = batch[ACTION].clone()
    moved[ACTION][0] += 50.0  # a wildly different target for the zero-weight sample
    _, p_grad_moved = grads(moved)
    torch.testing.assert_close(p_grad, p_grad_moved, rtol=1e-5, atol=1e-7)


def test_masked_mean_per_sample_by_hand():
    err = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    mean, count = masked_mean_per_sample(err, valid)
    assert count.tolist() == [4.0, 0.0]
    assert mean.tolist() == [(0 + 1 + 2 + 3) / 4, 0.0]


def test_edge_pad_actions_copies_the_nearest_valid_step():
    action = torch.arange(5, dtype=torch.float32).reshape(1, 5, 1).repeat(2, 1, 1)
    valid = torch.tensor([[False, True, True, False, False], [True, True, True, True, True]])
    out = edge_pad_actions(action, valid)
    assert out[0, :, 0].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert out[1, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
