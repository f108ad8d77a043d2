"""Training throughput (samples/s) of the CPU-sized ACT config (configs/policy/act.yaml).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train.py [--steps 100] [--repeats 3] [--batch 32]

(a) rabc's Lightning loop (WeightedBCModule) with TOP-AWR tempered weights vs uniform weights: the cost of
    weighting (goal: ≤ 3 % overhead);
(b) rabc's Lightning loop vs lerobot's own training step as ``lerobot_train.update_policy`` does it
    (preprocess, ``policy.forward`` → batch-mean loss, backward, grad-norm clip, optimizer step, zero grad) on the
    same policy config and batches (goal: ≥ 1.0×).
The three arms run interleaved, ``--repeats`` times, in one process; each arm's median over repeats is reported.
Per-step times exclude data loading (the batches are pre-built and identical for all arms). On a shared machine
the numbers are noisy: compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from bench_policy_step import DIMS, features_and_stats  # benchmarks/ is on sys.path when run as a script
from omegaconf import OmegaConf
from tqdm import tqdm

from rabc.lit.module import WeightedBCModule
from rabc.policies import make_policy
from rabc.types import ACTION, ACTION_IS_PAD, OBS_ENV_STATE, OBS_STATE, SAMPLE_WEIGHT

ROOT = Path(__file__).resolve().parents[1]
GRAD_CLIP = 10.0  # configs/trainer/cpu.yaml gradient_clip_val, and lerobot's default grad_clip_norm


def _weight_pool(progress: Path) -> np.ndarray:
    """TOP-AWR tempered weights of the default dataset's oracle progress, or a synthetic stand-in."""
    if progress.is_file():
        from rabc.weighting import compute_weights

        cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "configs/weighting/top_awr_tempered.yaml"))
        from hydra.utils import instantiate

        result, _ = compute_weights(progress, instantiate(cfg))
        return result.weight.astype(np.float32)
    return np.clip(2 * np.exp(np.random.default_rng(0).normal(0, 1, 10_000)), 0, 2).astype(np.float32)


def _make(batch_size: int):
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "configs/policy/act.yaml"), resolve=True)
    name = cfg.pop("name")
    inputs, outputs, stats = features_and_stats()
    torch.manual_seed(0)
    return make_policy(
        name, input_features=inputs, output_features=outputs, dataset_stats=stats, device="cpu", **cfg
    )


def _batches(n: int, batch_size: int, chunk: int, weights: np.ndarray | None) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        pad = torch.arange(chunk)[None] >= torch.randint(chunk // 2, chunk + 1, (batch_size, 1), generator=g)
        w = (torch.from_numpy(np.random.default_rng(len(out)).choice(weights, batch_size))
             if weights is not None else torch.ones(batch_size))  # fmt: skip
        out.append({
            OBS_STATE: torch.randn(batch_size, DIMS[OBS_STATE], generator=g),
            OBS_ENV_STATE: torch.randn(batch_size, DIMS[OBS_ENV_STATE], generator=g),
            ACTION: torch.randn(batch_size, chunk, DIMS[ACTION], generator=g),
            ACTION_IS_PAD: pad,
            SAMPLE_WEIGHT: w,
        })  # fmt: skip
    return out


class _StepTimer(pl.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self._t0)


def rabc_lightning(batches: list[dict], steps: int, batch_size: int) -> float:
    """Samples/s of WeightedBCModule under a Lightning Trainer (median step time, first 3 steps dropped)."""
    adapter, pre, _ = _make(batch_size)
    module = WeightedBCModule(adapter, partial(torch.optim.AdamW, lr=1e-4, weight_decay=1e-4), preprocessor=pre,
                              histogram_every=0)  # fmt: skip
    timer = _StepTimer()
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=steps + 3, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=GRAD_CLIP,
                         callbacks=[timer], limit_val_batches=0)  # fmt: skip
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    return batch_size / statistics.median(timer.times[3:])


def lerobot_update_policy(batches: list[dict], steps: int, batch_size: int) -> float:
    """Samples/s of lerobot's own step (lerobot_train.update_policy, without accelerate) on the same policy."""
    adapter, pre, _ = _make(batch_size)
    policy = adapter.policy  # the lerobot ACTPolicy
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4, weight_decay=1e-4)
    times = []
    for i in range(steps + 3):
        raw = {k: v for k, v in batches[i % len(batches)].items() if k != SAMPLE_WEIGHT}
        t0 = time.perf_counter()
        batch = pre(raw)
        loss, _ = policy.forward(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), GRAD_CLIP, error_if_nonfinite=False)
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return batch_size / statistics.median(times[3:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="timed steps per arm and repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--progress", type=Path, default=ROOT / "data/metaworld_mixed/progress/oracle.parquet")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    chunk = int(OmegaConf.load(ROOT / "configs/policy/act.yaml").chunk_size)
    pool = _weight_pool(args.progress)
    weighted = _batches(16, args.batch, chunk, pool)
    uniform = _batches(16, args.batch, chunk, None)
    arms = {
        "weighted": lambda: rabc_lightning(weighted, args.steps, args.batch),
        "uniform": lambda: rabc_lightning(uniform, args.steps, args.batch),
        "lerobot": lambda: lerobot_update_policy(uniform, args.steps, args.batch),
    }
    rates: dict[str, list[float]] = {k: [] for k in arms}
    for _ in tqdm(range(args.repeats), desc="repeats"):
        for name, fn in arms.items():  # interleaved: machine load hits every arm alike
            rates[name].append(fn())
        tqdm.write("samples/s so far: " + json.dumps({k: [round(x, 1) for x in v] for k, v in rates.items()}))
    med = {k: statistics.median(v) for k, v in rates.items()}
    row = {
        "config": "act (configs/policy/act.yaml)",
        "batch": args.batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "weights": f"top_awr_tempered, mean {pool.mean():.3f}, std {pool.std():.3f}",
        "samples_per_s": {k: round(v, 1) for k, v in med.items()},
        "samples_per_s_all": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "weighting_overhead": round(med["uniform"] / med["weighted"] - 1, 4),
        "rabc_vs_lerobot": round(med["uniform"] / med["lerobot"], 3),
    }
    print(json.dumps(row, indent=1))
    print(f"weighting overhead (uniform/weighted - 1): {row['weighting_overhead']:+.1%}  (goal <= 3 %)")
    print(
        f"rabc loop vs lerobot update_policy (samples/s ratio): {row['rabc_vs_lerobot']:.3f}x  (goal >= 1.0x)"
    )
    if args.out is not None:
        from rabc.io import write_json

        write_json(args.out, row)


if __name__ == "__main__":
    main()
