"""Invariants of the weighted loss (ARCHITECTURE.md) and of the Lightning module around it."""

from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from rabc.lit.module import WeightedBCModule
from rabc.weighting.reduce import weight_stats, weighted_mean
from tests.lit.toy import ToyData, ToyPolicy


def _grads(policy, batch, weights):
    policy.zero_grad()
    weighted_mean(policy.compute_loss(batch), weights).backward()
    return [p.grad.clone() for p in policy.parameters()]


def test_uniform_equals_unweighted_and_scaling_changes_nothing():
    data = ToyData(8)
    batch = {"x": data.x, "y": data.y}
    policy = ToyPolicy()
    per_sample = policy.compute_loss(batch)
    assert torch.equal(weighted_mean(per_sample, torch.ones(8)), per_sample.mean())
    w = torch.rand(8) + 0.1
    torch.testing.assert_close(weighted_mean(per_sample, w), weighted_mean(per_sample, 7.5 * w))
    for a, b in zip(_grads(policy, batch, w), _grads(policy, batch, 1e-3 * w)):
        torch.testing.assert_close(a, b)


def test_zero_weight_sample_has_no_gradient():
    data = ToyData(8)
    policy = ToyPolicy()
    w = torch.rand(8) + 0.1
    w[3] = 0.0
    full = _grads(policy, {"x": data.x, "y": data.y}, w)
    keep = [i for i in range(8) if i != 3]
    without = _grads(policy, {"x": data.x[keep], "y": data.y[keep]}, w[keep])
    for a, b in zip(full, without):
        torch.testing.assert_close(a, b)
    # and the sample's own loss gets no gradient
    x = data.x.clone().requires_grad_(True)
    weighted_mean(policy.compute_loss({"x": x, "y": data.y}), w).backward()
    assert torch.all(x.grad[3] == 0) and torch.any(x.grad[2] != 0)


def test_bad_shapes_and_zero_sum_raise():
    with pytest.raises(ValueError, match="must be"):
        weighted_mean(torch.ones(4), torch.ones(3))
    with pytest.raises(ValueError, match="sum to zero"):
        weighted_mean(torch.ones(4), torch.zeros(4))


def test_weight_stats_ess():
    s = weight_stats(torch.tensor([1.0, 1.0, 0.0, 0.0]), cap=1.0)
    assert s["ess_frac"].item() == pytest.approx(0.5) and s["ess"].item() == pytest.approx(2.0)
    assert s["zero_frac"].item() == 0.5 and s["capped_frac"].item() == 0.5


def _fit(module, data, batch_size, steps, **trainer_kw):
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_kw,
    )
    trainer.fit(module, DataLoader(data, batch_size=batch_size, shuffle=False))
    return trainer


def test_all_zero_batch_skips_the_optimizer_step():
    weights = torch.ones(8)
    weights[4:] = 0.0  # second batch of 4 is all zero
    module = WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.AdamW, lr=0.1, weight_decay=0.5))
    _fit(module, ToyData(8, weights), batch_size=4, steps=1)
    after_one = [p.detach().clone() for p in module.policy.parameters()]
    state_one = {k: v["step"].clone() for k, v in module.trainer.optimizers[0].state.items()}
    module2 = WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.AdamW, lr=0.1, weight_decay=0.5))
    trainer = _fit(module2, ToyData(8, weights), batch_size=4, steps=2)
    assert int(module2.skipped_steps) == 1
    for a, b in zip(after_one, module2.policy.parameters()):
        torch.testing.assert_close(a, b.detach())
    state_two = {k: v["step"] for k, v in trainer.optimizers[0].state.items()}
    assert [v.item() for v in state_one.values()] == [v.item() for v in state_two.values()]


def test_all_zero_batch_leaves_the_ema_alone():
    weights = torch.ones(8)
    weights[4:] = 0.0
    one, two = (
        WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.SGD, lr=0.1), ema_decay=0.9) for _ in "12"
    )
    _fit(one, ToyData(8, weights), batch_size=4, steps=1)
    _fit(two, ToyData(8, weights), batch_size=4, steps=2)
    assert int(two.skipped_steps) == 1 and two.ema.optimization_step == one.ema.optimization_step == 1
    for a, b in zip(one.ema.averaged.parameters(), two.ema.averaged.parameters()):
        torch.testing.assert_close(a, b)


def test_ema_tracks_policy():
    module = WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.SGD, lr=0.1), ema_decay=0.5)
    _fit(module, ToyData(8), batch_size=2, steps=4)  # the warm-up schedule copies on the first two updates
    trained = torch.cat([p.flatten() for p in module.policy.parameters()])
    ema = torch.cat([p.flatten() for p in module.ema.averaged.parameters()])
    assert not torch.allclose(trained, ema)
    assert module.eval_policy is module.ema.averaged and module.ema.optimization_step == 4


def test_metrics_reach_the_logger_on_logging_steps(tmp_path):
    from pytorch_lightning.loggers import CSVLogger

    module = WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.SGD, lr=0.01))
    trainer = pl.Trainer(
        max_steps=12, log_every_n_steps=5, logger=CSVLogger(tmp_path, name="x", version=0),
        enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, DataLoader(ToyData(8), batch_size=2))
    lines = (tmp_path / "x" / "version_0" / "metrics.csv").read_text().splitlines()
    header, rows = lines[0].split(","), [dict(zip(lines[0].split(","), r.split(","))) for r in lines[1:]]
    assert {"train/loss", "train/loss_unweighted", "weights/ess_frac", "weights/mean"} <= set(header)
    assert [int(r["step"]) for r in rows if r["train/loss"]] == [4, 9]
    assert "train/loss" in trainer.callback_metrics  # the last step (11) logs too
