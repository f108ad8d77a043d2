"""Disjoint episode splits (train / val / held-out tasks) for generated or any LeRobot v3 datasets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rabc.data.lerobot_io import episode_table


def split_episodes(
    root: str | Path,
    val_fraction: float = 0.1,
    seed: int = 0,
    stratify_by_task: bool = True,
) -> dict[str, list[int]]:
    """Split episode indices into disjoint ``train``, ``val`` and ``heldout`` lists (sorted).

    ``heldout``: episodes of held-out tasks (never trained or validated on). The rest is split per task (when
    ``stratify_by_task``) with at least one training episode per task and ``round(val_fraction · n)``
    validation episodes, chosen by a seeded permutation.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    df = episode_table(root)
    heldout = df.loc[df["heldout"].astype(bool), "episode_index"].to_numpy()
    rest = df[~df["heldout"].astype(bool)]
    rng = np.random.default_rng(seed)
    groups = (
        [g["episode_index"].to_numpy() for _, g in rest.groupby("task", sort=True)]
        if stratify_by_task
        else [rest["episode_index"].to_numpy()]
    )
    val: list[int] = []
    for g in groups:
        n_val = min(int(round(val_fraction * len(g))), len(g) - 1)
        val.extend(rng.permutation(g)[:n_val].tolist())
    val_set = set(val)
    train = [int(e) for e in rest["episode_index"] if int(e) not in val_set]
    return {
        "train": sorted(train),
        "val": sorted(int(v) for v in val),
        "heldout": sorted(int(h) for h in heldout),
    }


def sample_episodes(
    episodes: Sequence[int], classes: Sequence[str] | None = None, n: int = 6, *, seed: int = 0
) -> list[int]:
    """Up to ``n`` of ``episodes``, one per class in turn (e.g. quality: clean, detour, fail, clean, ...) when
    ``classes`` (one per episode) are given, drawn with ``seed``; sorted."""
    rng = np.random.default_rng(seed)
    eps = np.asarray(episodes)
    cls = np.asarray(classes).astype(str) if classes is not None else np.zeros(len(eps), dtype=str)
    if len(cls) != len(eps):
        raise ValueError(f"{len(eps)} episodes but {len(cls)} classes")
    groups = [list(rng.permutation(eps[cls == c])) for c in sorted(set(cls))]
    picked: list[int] = []
    while len(picked) < n and any(groups):
        for g in groups:
            if g and len(picked) < n:
                picked.append(int(g.pop(0)))
    return sorted(picked)
