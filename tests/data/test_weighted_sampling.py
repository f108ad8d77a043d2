"""Weighting by sampling (``data.sampling=sample``): frames are drawn ∝ weight, zero-weight frames never, and the
loss then weights every drawn frame equally."""

import numpy as np
import pytest
import torch

from rabc.data.weighted import weighted_sampler
from rabc.lit.datamodule import WeightedDataModule
from rabc.types import SAMPLE_WEIGHT
from rabc.weighting import WeightTable


def test_sampler_draws_in_proportion_to_weight():
    w = np.array([0.0, 1.0, 2.0, 4.0, 0.0, 1.0], dtype=np.float32)
    draws = np.asarray(list(weighted_sampler(w, 80_000, seed=0)))
    counts = np.bincount(draws, minlength=len(w)) / len(draws)
    assert counts[w == 0].sum() == 0  # a zero-weight frame is never drawn
    np.testing.assert_allclose(counts, w / w.sum(), atol=0.01)
    assert list(weighted_sampler(w, 50, seed=3)) == list(weighted_sampler(w, 50, seed=3))  # seeded
    with pytest.raises(ValueError, match="all weights are zero"):
        weighted_sampler(np.zeros(4), 4, seed=0)


class _Rows(torch.utils.data.Dataset):
    def __init__(self, index):
        self.index = index

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        return {"index": torch.tensor(self.index[i]), "x": torch.tensor(float(self.index[i]))}


def test_datamodule_sample_mode_draws_by_weight_with_unit_loss_weights():
    n = 40
    index = np.arange(n)
    weight = np.where(index % 4 == 0, 0.0, 1.0 + index % 3).astype(np.float32)  # every 4th frame weighs 0
    table = WeightTable(index, weight)
    episode = index // 10

    def frames(episodes):
        keep = index[np.isin(episode, episodes)]
        return _Rows(keep), keep

    dm = WeightedDataModule(frames, [0, 1, 2], [3], table, batch_size=8, sampling="sample", seed=0)
    dm.setup()
    drawn = []
    for batch in dm.train_dataloader():
        assert torch.equal(batch[SAMPLE_WEIGHT], torch.ones(len(batch["index"])))
        drawn += batch["index"].tolist()
    assert drawn and all(weight[i] > 0 for i in drawn) and max(drawn) < 30  # train episodes only
    # the validation loader keeps the true weights (diagnostics), the loss there is unweighted anyway
    val = next(iter(dm.val_dataloader()))
    np.testing.assert_array_equal(val[SAMPLE_WEIGHT].numpy(), weight[val["index"].numpy()])
