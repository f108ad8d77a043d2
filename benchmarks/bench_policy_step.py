"""Seconds per training step (per-sample loss + weighted mean + backward + AdamW) and per predicted chunk.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_policy_step.py [--configs act diffusion] [--batch 32]

Also times lerobot's own ``forward`` (batch-mean loss) on the same batch: the adapter's overhead.
Inputs are the project's: state (4,), environment state (17,), action (4,), no camera.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from lerobot.configs import FeatureType, PolicyFeature
from omegaconf import OmegaConf
from tqdm import tqdm

from rabc.policies import make_policy
from rabc.types import ACTION, ACTION_IS_PAD, OBS_ENV_STATE, OBS_STATE

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "policy"
DIMS = {OBS_STATE: 4, OBS_ENV_STATE: 17, ACTION: 4}


def features_and_stats():
    """Feature specs and unit stats of the sim dataset's state-only inputs (shared with bench_train.py)."""
    inputs = {
        OBS_STATE: PolicyFeature(FeatureType.STATE, (DIMS[OBS_STATE],)),
        OBS_ENV_STATE: PolicyFeature(FeatureType.ENV, (DIMS[OBS_ENV_STATE],)),
    }
    outputs = {ACTION: PolicyFeature(FeatureType.ACTION, (DIMS[ACTION],))}
    stats = {k: {"mean": torch.zeros(d), "std": torch.ones(d), "min": -torch.ones(d), "max": torch.ones(d)}
             for k, d in DIMS.items()}  # fmt: skip
    return inputs, outputs, stats


def _batch(adapter, batch_size: int, device: str) -> dict[str, torch.Tensor]:
    cfg = adapter.config
    lead = (batch_size, cfg.n_obs_steps) if cfg.type == "diffusion" else (batch_size,)
    t = adapter.chunk_size
    return {
        OBS_STATE: torch.randn(*lead, DIMS[OBS_STATE], device=device),
        OBS_ENV_STATE: torch.randn(*lead, DIMS[OBS_ENV_STATE], device=device),
        ACTION: torch.randn(batch_size, t, DIMS[ACTION], device=device),
        ACTION_IS_PAD: torch.zeros(batch_size, t, dtype=torch.bool, device=device),
        "sample_weight": torch.rand(batch_size, device=device) * 2,
    }


def _timeit(fn, steps: int, warmup: int, label: str, sync) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in tqdm(range(steps), desc=label, leave=False, disable=not label):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def bench(stem: str, batch_size: int, steps: int, warmup: int, device: str | None) -> dict:
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{stem}.yaml"), resolve=True)
    name = cfg.pop("name")
    inputs, outputs, stats = features_and_stats()
    torch.manual_seed(0)
    adapter, _, _ = make_policy(
        name, input_features=inputs, output_features=outputs, dataset_stats=stats, device=device, **cfg
    )
    dev = adapter.config.device
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    opt = torch.optim.AdamW(adapter.parameters(), lr=1e-4)
    batch = _batch(adapter, batch_size, dev)
    adapter.train()

    def rabc_step():
        opt.zero_grad(set_to_none=True)
        w = batch["sample_weight"]
        loss = (adapter.compute_loss(batch) * w).sum() / w.sum()
        loss.backward()
        opt.step()

    def lerobot_step():
        opt.zero_grad(set_to_none=True)
        loss, _ = adapter.policy.forward(batch)
        loss.backward()
        opt.step()

    # Alternate the two so that load from other processes on a shared machine hits both alike.
    ours, theirs = [], []
    for _ in tqdm(range(steps), desc=f"{stem} steps", leave=False):
        ours += _timeit(rabc_step, 1, warmup, "", sync)
        theirs += _timeit(lerobot_step, 1, warmup, "", sync)
        warmup = 0
    adapter.eval()
    obs = {k: v[:1] for k, v in batch.items() if k.startswith("observation")}
    chunk = _timeit(lambda: adapter.predict_action(obs), max(3, steps // 3), 1, f"{stem} predict", sync)
    return {
        "config": stem,
        "device": dev,
        "params_M": round(sum(p.numel() for p in adapter.parameters()) / 1e6, 2),
        "batch": batch_size,
        "s_per_step_rabc": round(statistics.median(ours), 4),
        "s_per_step_lerobot": round(statistics.median(theirs), 4),
        "overhead": round(statistics.median(ours) / statistics.median(theirs) - 1, 4),
        "s_per_chunk": round(statistics.median(chunk), 4),
        "chunk": adapter.n_action_steps,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["act", "diffusion"], help="stems under configs/policy/")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default=None, help="default: lerobot's choice (cuda if available)")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [bench(s, args.batch, args.steps, args.warmup, args.device) for s in args.configs]
    for row in rows:
        print(json.dumps(row))
    if args.out is not None:
        from rabc.io import write_json

        write_json(args.out, rows)


if __name__ == "__main__":
    main()
