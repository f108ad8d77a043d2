"""Under DDP the weighted loss uses the global Σw: 2 CPU processes (gloo) match 1 process on the same global batch."""

from functools import partial

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from rabc.lit.module import WeightedBCModule
from tests.lit.toy import ToyData, ToyPolicy


def _train(devices: int, batch_size: int) -> list[torch.Tensor]:
    # Very uneven weights so that each rank's local Σw differs from the global one.
    weights = torch.tensor([5.0, 0.1, 3.0, 0.2, 0.0, 0.3, 2.0, 0.4])
    module = WeightedBCModule(ToyPolicy(), optimizer=partial(torch.optim.SGD, lr=1.0))
    trainer = pl.Trainer(
        max_steps=1,
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    # DistributedSampler without shuffling gives rank r the items r, r+2, ...: together the same 8 items.
    trainer.fit(module, DataLoader(ToyData(8, weights), batch_size=batch_size, shuffle=False))
    return [p.detach().clone() for p in module.policy.parameters()]


def test_ddp_matches_single_process_on_the_same_global_batch():
    single = _train(devices=1, batch_size=8)
    ddp = _train(devices=2, batch_size=4)
    initial = [p.detach() for p in ToyPolicy().parameters()]
    for s, d, p0 in zip(single, ddp, initial):
        assert not torch.allclose(s, p0)  # a real update happened
        torch.testing.assert_close(s, d, rtol=1e-5, atol=1e-6)
