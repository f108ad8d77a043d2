"""The adapters on real LeRobot v3 batches (generated Meta-World demos): delta_timestamps from the adapter, lerobot's
preprocessor, per-sample losses; padded slots arrive as edge copies, so Diffusion's padding canonicalisation is
the identity on real data."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from rabc.data import load_dataset
from rabc.policies import edge_pad_actions, make_policy
from rabc.types import ACTION, ACTION_IS_PAD
from tests.policies.tiny import TINY

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("name, use_images", [("act", False), ("diffusion", False), ("act", True)])
def test_real_batches(tiny_dataset, name, use_images):
    meta = load_dataset(tiny_dataset).meta
    torch.manual_seed(0)
    adapter, pre, _ = make_policy(name, ds_meta=meta, use_images=use_images, **TINY[name])
    cameras = list(adapter.config.image_features)
    assert bool(cameras) == use_images
    ds = load_dataset(tiny_dataset, delta_timestamps=adapter.delta_timestamps(meta.fps), episodes=[0])
    n = len(ds)
    picks = [
        0,
        1,
        n // 2,
        n - 3,
        n - 1,
    ]  # episode start (Diffusion pads the past) and end (both pad the future)
    batch = default_collate([ds[i] for i in picks])
    assert batch[ACTION].shape == (5, adapter.chunk_size, 4)
    assert batch[ACTION_IS_PAD][-1].sum() == adapter.chunk_size - (2 if name == "diffusion" else 1)
    torch.testing.assert_close(edge_pad_actions(batch[ACTION], ~batch[ACTION_IS_PAD]), batch[ACTION])

    batch = pre(batch)
    adapter.train()
    loss = adapter.compute_loss(batch)
    assert loss.shape == (5,) and torch.isfinite(loss).all()
    loss.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in adapter.parameters() if p.grad is not None)
