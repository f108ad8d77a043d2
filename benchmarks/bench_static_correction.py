"""Cost of the length-bias correction: score_episode with correction="static" over correction="none".

    python benchmarks/bench_static_correction.py [--frames 32 64] [--size tiny] [--repeats 3] [--model DIR]

Both run in this process on the same frames (a random Qwen3-VL of --size unless --model is given); the printed
ratio is corrected / uncorrected wall time (best of --repeats) and LM / visual tokens of the two sweeps.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer

TASK = "push the puck to the goal"


def _frames(n: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    video = rng.integers(0, 60, (n, size, size, 3), dtype=np.uint8)
    for t in range(n):
        x = int(t * (size - size // 4) / max(n - 1, 1))
        video[t, size // 8 : size // 8 + size // 4, x : x + size // 4] = 230
    return video


def _best(scorer: TopRewardScorer, frames: np.ndarray, repeats: int):
    times, s = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        s = scorer.score_episode(frames, fps=10.0, instruction=TASK)
        times.append(time.perf_counter() - t0)
    return min(times), s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(make_tiny_vlm(tmp, size=args.size))
        plain = TopRewardScorer(model)
        corrected = TopRewardScorer(model, correction="static")
        print("frames | uncorrected s | corrected s | time ratio | LM tokens ratio | visual tokens ratio")
        for n in args.frames:
            frames = _frames(n)
            t_plain, a = _best(plain, frames, args.repeats)
            t_corr, b = _best(corrected, frames, args.repeats)
            lm = b.stats["lm_tokens"] / a.stats["lm_tokens"]
            vis = b.stats["visual_tokens"] / a.stats["visual_tokens"]
            print(f"{n} | {t_plain:.3f} | {t_corr:.3f} | {t_corr / t_plain:.2f}x | {lm:.2f}x | {vis:.2f}x")


if __name__ == "__main__":
    main()
