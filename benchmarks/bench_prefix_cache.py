"""Benchmark the exact cached TOPReward prefix sweep against the naive one (one full forward per prefix).

    python benchmarks/bench_prefix_cache.py [--frames 32 64 128 256] [--anchors 15] [--sizes tiny mid]
                                            [--frame-size 64] [--model DIR_OR_ID ...] [--device cpu]

For each model and episode length it prints visual tokens (through the vision tower), LM tokens and wall time of
both sweeps, their ratios, and the max |Δ log p| between them. Random Qwen3-VL models ("tiny": ~0.3 M
parameters, "mid": ~20 M) are built in a temp dir unless --model points at real ones (local dir or hub id).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rabc.reward.prefix_cache import SweepStats
from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer, anchor_lengths

TASK = "push the puck to the goal"


def _frames(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) uint8: noise plus a square moving across the episode."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 60, (n, 3, size, size), dtype=np.uint8)
    for t in range(n):
        x = int(t * (size - size // 4) / max(n - 1, 1))
        video[t, :, size // 8 : size // 8 + size // 4, x : x + size // 4] = 230
    return torch.from_numpy(video)


def _timed(scorer, text, clip, lengths, repeats: int):
    """Best-of-``repeats`` wall times of both sweeps, interleaved so that both see the same machine load.

    Returns (naive (K, 2) log p, cached (K, 2) log p, naive seconds, cached seconds).
    """
    best = {False: float("inf"), True: float("inf")}
    out = {}
    for _ in range(repeats):
        for cached in (False, True):
            t0 = time.perf_counter()
            out[cached] = scorer.prefix_logprobs(text, clip, lengths, cached=cached)
            best[cached] = min(best[cached], time.perf_counter() - t0)
    return out[False], out[True], best[False], best[True]


def bench_model(name: str, scorer: TopRewardScorer, frame_counts, anchors, frame_size, fps, repeats):
    text = scorer.prompt(TASK)
    rows = []
    for n in tqdm(frame_counts, desc=name, leave=False):
        clip = scorer.prepare_clip(_frames(n, frame_size), fps, text)
        lengths = anchor_lengths(n, anchors)
        stats = {"naive": SweepStats(), "cached": SweepStats()}
        scorer.prefix_logprobs(text, clip, lengths[:2], cached=True)  # warm-up (allocator, kernels)
        naive, cached, t_naive, t_cached = _timed(scorer, text, clip, lengths, repeats)
        scorer.prefix_logprobs(text, clip, lengths, stats["naive"], cached=False)
        scorer.prefix_logprobs(text, clip, lengths, stats["cached"], cached=True)
        sn, sc = stats["naive"], stats["cached"]
        rows.append(
            (name, n, len(lengths), f"{clip.frames.shape[-2]}x{clip.frames.shape[-1]}", sn.visual_tokens,
             sc.visual_tokens, sn.visual_tokens / sc.visual_tokens, sn.lm_tokens, sc.lm_tokens,
             sn.lm_tokens / sc.lm_tokens, t_naive, t_cached, t_naive / t_cached, float(np.abs(naive - cached).max()))
        )  # fmt: skip
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--anchors", type=int, default=15)
    parser.add_argument("--sizes", nargs="*", default=["tiny", "mid"], help="random Qwen3-VL sizes to build")
    parser.add_argument("--model", nargs="*", default=[], help="extra models: local dirs or hub ids")
    parser.add_argument(
        "--frame-size", type=int, default=64, help="square frame side in pixels (multiple of 32)"
    )
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=1, help="best of N timings")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = [(size, str(make_tiny_vlm(Path(tmp) / size, size=size))) for size in args.sizes]
        models += [(Path(m).name or m, m) for m in args.model]
        for name, path in models:
            scorer = TopRewardScorer(path, device=args.device, dtype=args.dtype)
            params = sum(p.numel() for p in scorer.adapter.model.parameters()) / 1e6
            rows += bench_model(f"{name} ({params:.2f}M)", scorer, args.frames, args.anchors, args.frame_size,
                                args.fps, args.repeats)  # fmt: skip

    head = ("model", "frames", "K", "size", "vis naive", "vis cached", "vis ×", "LM naive", "LM cached", "LM ×",
            "s naive", "s cached", "time ×", "max|Δlogp|")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [*map(str, r[:6]), f"{r[6]:.2f}", str(r[7]), str(r[8]), f"{r[9]:.2f}", f"{r[10]:.3f}", f"{r[11]:.3f}",
                 f"{r[12]:.2f}", f"{r[13]:.1e}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
