"""Benchmark: a synthetic progress table → per-frame weights, rabc (vectorised) vs lerobot 0.6.1's RABCWeights.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_weights.py [--frames 10000000] [--lerobot-frames 300000,1000000]

rabc is timed on the full table (read parquet + TOP-AWR, read parquet + SARM, and ``compute_weights`` end to end
incl. the file hash and writing weights.parquet). lerobot's ``RABCWeights`` construction (``iterrows`` into dicts,
a per-episode boolean filter of the whole frame, global delta statistics) is timed on a leading subset of whole
episodes (``--lerobot-frames``; 0 = the full table, ~20 min at 10 M frames). Its cost grows faster than linearly
(the per-episode filter is O(episodes × frames)), so the ratio printed uses the linear extrapolation from the largest
subset, a lower bound; with two or more subset sizes an a·N + c·N² fit is printed beside it.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from rabc.progress import ProgressTable, read_progress, write_progress
from rabc.weighting import Sarm, TopAWR, compute_weights, write_weights


def synth_table(frames: int, seed: int, fps: float) -> ProgressTable:
    """Episodes of 100–500 frames; progress = a noisy ramp with NaN-free float32 values."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(100, 501, size=frames // 100 + 1)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), frames) + 1]
    lengths[-1] -= lengths.sum() - frames
    lengths = lengths[lengths > 0]
    ep = np.repeat(np.arange(len(lengths)), lengths)
    frame = np.arange(frames) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ramp = frame / np.repeat(np.maximum(lengths - 1, 1), lengths)
    prog = np.clip(ramp + rng.normal(0, 0.03, frames), 0, 1).astype(np.float32)
    return ProgressTable(
        np.arange(frames), ep, frame, prog, provenance={"fps": fps, "dataset_fingerprint": "synthetic"}
    )


def timed(fn, repeat: int = 1):
    """(best wall time over ``repeat`` runs, last result); the machine is shared, so the minimum is reported."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10_000_000)
    ap.add_argument(
        "--lerobot-frames",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[300_000, 1_000_000],
        help="comma-separated subset sizes timed for lerobot (two or more: a·N + c·N² fit); 0 = the full table",
    )
    ap.add_argument("--chunk", type=int, default=50, help="lerobot chunk_size = our SARM horizon in frames")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="rabc timings: best of this many runs")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        table = synth_table(args.frames, args.seed, args.fps)
        n_ep = len(np.unique(table.episode_index))
        path = tmp_p / "progress.parquet"
        write_progress(path, table)
        print(
            f"synthetic progress: {args.frames:,} frames, {n_ep:,} episodes, {path.stat().st_size / 1e6:.0f} MB"
        )

        sarm = Sarm(horizon_s=args.chunk / args.fps)
        awr = TopAWR(horizon_s=1.0, temperature="std/3")
        t_cold, _ = timed(lambda: sarm(read_progress(path), args.fps))
        t_read, prog = timed(lambda: read_progress(path), args.repeat)
        t_awr, _ = timed(lambda: awr(prog, args.fps), args.repeat)
        t_sarm, r_sarm = timed(lambda: sarm(prog, args.fps), args.repeat)

        def end_to_end():
            result, meta = compute_weights(path, sarm)
            write_weights(tmp_p / "weights.parquet", result, meta)

        t_e2e, _ = timed(end_to_end, args.repeat)
        print(f"rabc first call, read + sarm (cold memory) {t_cold:7.3f} s; best of {args.repeat} below")
        print(f"rabc read_progress           {t_read:7.3f} s")
        print(f"rabc top_awr (compute)       {t_awr:7.3f} s   read+compute {t_read + t_awr:7.3f} s")
        print(f"rabc sarm (compute)          {t_sarm:7.3f} s   read+compute {t_read + t_sarm:7.3f} s")
        print(f"rabc compute_weights(sarm) + write, end to end  {t_e2e:7.3f} s")

        import torch
        from lerobot.rewards.sarm.rabc import RABCWeights

        ours_full = t_read + t_sarm
        sizes = sorted({args.frames if f <= 0 else min(f, args.frames) for f in args.lerobot_frames})
        measured = []  # (frames, lerobot seconds)
        for size in sizes:
            # whole episodes only, so a subset's statistics are those of a real (smaller) dataset
            sub_frames = int(
                np.searchsorted(table.episode_index, table.episode_index[size - 1], side="right")
            )
            sub = ProgressTable(
                table.index[:sub_frames],
                table.episode_index[:sub_frames],
                table.frame_index[:sub_frames],
                table.progress[:sub_frames],
                provenance=table.provenance,
            )
            sub_path = tmp_p / f"progress_{sub_frames}.parquet"
            write_progress(sub_path, sub)
            t_lr, rw = timed(
                lambda p=sub_path: RABCWeights(p, chunk_size=args.chunk, device=torch.device("cpu"))
            )
            t_ours_sub, r_sub = timed(lambda p=sub_path: sarm(read_progress(p), args.fps), args.repeat)
            # same per-frame weights (a spot check of 20k frames through lerobot's own per-frame path)
            probe = np.random.default_rng(0).choice(sub_frames, size=min(20_000, sub_frames), replace=False)
            deltas = np.array([rw._compute_delta(int(i)) for i in probe], dtype=np.float32)
            max_diff = float(np.abs(rw._compute_weights(deltas) - r_sub.weight[probe]).max())
            print(
                f"lerobot RABCWeights(...) on {sub_frames:,} frames: {t_lr:7.2f} s  (rabc read+sarm on the same "
                f"file: {t_ours_sub:.3f} s, {t_lr / t_ours_sub:,.0f}x; max |Δw| on 20k frames {max_diff:.1e})"
            )
            measured.append((sub_frames, t_lr))
        n_full = args.frames
        if measured[-1][0] == n_full:
            t_lr_full, how = measured[-1][1], "measured"
        else:
            n_sub, t_sub = measured[-1]
            t_lr_full, how = (
                t_sub * n_full / n_sub,
                f"linear extrapolation from {n_sub:,} frames (a lower bound)",
            )
            if len(measured) >= 2:
                # lerobot's cost ~ a·N (iterrows) + c·N² (one boolean filter of the whole frame per episode)
                n = np.array([m[0] for m in measured], dtype=np.float64)
                t = np.array([m[1] for m in measured])
                a, c = np.linalg.lstsq(np.stack([n, n * n], axis=1), t, rcond=None)[0]
                quad = a * n_full + c * n_full**2
                print(f"lerobot fit t = a·N + c·N²: a = {a * 1e6:.2f} s/M frames, c = {c * 1e12:.2f} s/M²")
                print(f"lerobot on {n_full:,} frames ≈ {quad:,.0f} s (fit) / ≥ {t_lr_full:,.0f} s (linear)")
        print(f"lerobot on {n_full:,} frames: {t_lr_full:,.1f} s ({how})")
        print(
            f"ratio lerobot / rabc (sarm, read+compute, {n_full:,} frames): ≥ {t_lr_full / ours_full:,.0f}x; "
            f"rabc {ours_full:.2f} s {'<' if ours_full < 5 else '>='} 5 s goal"
        )


if __name__ == "__main__":
    main()
