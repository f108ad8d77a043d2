"""Under DDP the weighted loss uses the global Σw: 2 CPU processes (gloo) match 1 process on the same global batch."""

from functools import partial

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from rabc.lit.module import WeightedBCModule
from tests.lit.toy import RankStrided, ToyData, ToyPolicy

# Very uneven weights so that each rank's local Σw differs from the global one.
WEIGHTS = torch.tensor([5.0, 0.1, 3.0, 0.2, 0.0, 0.3, 2.0, 0.4])


def _train(devices: int, batch_size: int, weights=WEIGHTS, steps=1, optimizer=None):
    module = WeightedBCModule(ToyPolicy(), optimizer=optimizer or partial(torch.optim.SGD, lr=1.0))
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
    )
    data = ToyData(len(weights), weights)
    # Rank r gets the items r, r+2, ...: each global batch holds the same items as the one-process batch.
    trainer.fit(module, DataLoader(data, batch_size=batch_size, sampler=RankStrided(len(data))))
    return [p.detach().clone() for p in module.policy.parameters()], module


def test_ddp_matches_single_process_on_the_same_global_batch():
    single, _ = _train(devices=1, batch_size=8)
    ddp, _ = _train(devices=2, batch_size=4)
    initial = [p.detach() for p in ToyPolicy().parameters()]
    for s, d, p0 in zip(single, ddp, initial):
        assert not torch.allclose(s, p0)  # a real update happened
        torch.testing.assert_close(s, d, rtol=1e-5, atol=1e-6)


def test_ddp_skips_an_all_zero_global_batch_like_one_process():
    """The second global batch has zero weight on both ranks: no crash (Lightning forbids a None training step
    under DDP), the step is counted as skipped, and AdamW with weight decay leaves the parameters as one step did."""
    weights = torch.cat([WEIGHTS, torch.zeros(8)])
    adamw = partial(torch.optim.AdamW, lr=0.1, weight_decay=0.5)
    single, _ = _train(devices=1, batch_size=8, weights=weights, steps=1, optimizer=adamw)
    ddp, module = _train(devices=2, batch_size=4, weights=weights, steps=2, optimizer=adamw)
    assert int(module.skipped_steps) == 1 and int(module.batches_done) == 2
    for s, d in zip(single, ddp):
        torch.testing.assert_close(s, d, rtol=1e-5, atol=1e-6)
