"""Cost of the length-bias corrections over correction="none": "static" (per episode) and "static_task" (one still
curve per task and clip length, shared by a batch of episodes), and what the approximation costs in accuracy.

    python benchmarks/bench_static_correction.py [--frames 32 64] [--episodes 20] [--agree 5] [--size tiny]
        [--repeats 3] [--model DIR]

Everything runs in this process (a random Qwen3-VL of --size unless --model is given). Per frame count it prints:
- static: one episode, corrected / uncorrected wall time (best of --repeats, the two alternating), LM and visual
  tokens of the sweeps;
- static_task: a batch of --episodes episodes of one task (distinct random frames, same length), total time with a
  fresh static_task scorer (its cache starts empty, so the one still sweep is included) / total uncorrected time
  (best of --repeats each, alternating), and the LM-token ratio ((E + 1) / E by construction);
- agreement: max |progress(static_task) - progress(static)| over the batch's first --agree episodes (the first is
  the reference, 0 by construction), per frame and at the anchors.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from rabc.reward.tiny import make_tiny_vlm
from rabc.reward.topreward import TopRewardScorer

TASK = "push the puck to the goal"


def _frames(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """A dark random background with a bright square moving left to right (its row and background per seed)."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 60, (n, size, size, 3), dtype=np.uint8)
    y = int(rng.integers(0, size - size // 4))
    for t in range(n):
        x = int(t * (size - size // 4) / max(n - 1, 1))
        video[t, y : y + size // 4, x : x + size // 4] = 230
    return video


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _interleaved(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, Any]]:
    """Best wall time (and the last result) of each zero-argument callable, the callables alternating repeat by
    repeat so that a slower or faster stretch of a shared machine hits them all alike."""
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t, out = _time(fn)
            best[name] = (min(t, best.get(name, (float("inf"), None))[0]), out)
    return best


def _batch(make: Callable[[], TopRewardScorer], batch: list[np.ndarray]) -> Callable[[], list[Any]]:
    """Score ``batch`` (episodes of one task) with a fresh scorer from ``make()``: its still-curve cache is empty."""

    def run():
        scorer = make()
        return [
            scorer.score_episode(f, fps=10.0, instruction=TASK, episode_index=i) for i, f in enumerate(batch)
        ]

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--episodes", type=int, default=20, help="static_task batch: episodes of one task")
    ap.add_argument("--agree", type=int, default=5, help="episodes compared with the exact static correction")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(make_tiny_vlm(tmp, size=args.size))
        plain = TopRewardScorer(model)
        corrected = TopRewardScorer(model, correction="static")
        rows = []
        for n in args.frames:
            frames = _frames(n)
            one = _interleaved(
                {
                    "none": partial(plain.score_episode, frames, fps=10.0, instruction=TASK),
                    "static": partial(corrected.score_episode, frames, fps=10.0, instruction=TASK),
                },
                args.repeats,
            )
            (t_plain, a), (t_corr, b) = one["none"], one["static"]
            lm = b.stats["lm_tokens"] / a.stats["lm_tokens"]
            vis = b.stats["visual_tokens"] / a.stats["visual_tokens"]
            batch = [_frames(n, seed=1 + e) for e in range(args.episodes)]
            many = _interleaved(
                {
                    "none": _batch(lambda: TopRewardScorer(plain.adapter), batch),
                    "static_task": _batch(
                        lambda: TopRewardScorer(plain.adapter, correction="static_task"), batch
                    ),
                },
                args.repeats,
            )
            (tb_plain, sa), (tb_task, sb) = many["none"], many["static_task"]
            lm_task = sum(s.stats["lm_tokens"] for s in sb) / sum(s.stats["lm_tokens"] for s in sa)
            exact = [corrected.score_episode(f, fps=10.0, instruction=TASK) for f in batch[: args.agree]]
            dense = max(float(np.abs(x.progress - y.progress).max()) for x, y in zip(sb, exact))
            anchors = max(
                float(np.abs(x.progress_anchors - y.progress_anchors).max()) for x, y in zip(sb, exact)
            )
            rows.append(
                f"{n} | {t_plain:.3f} | {t_corr:.3f} | {t_corr / t_plain:.2f}x | {lm:.2f}x | {vis:.2f}x | "
                f"{args.episodes} | {tb_plain:.2f} | {tb_task:.2f} | {tb_task / tb_plain:.2f}x | {lm_task:.2f}x | "
                f"{dense:.3f} / {anchors:.3f} ({len(exact)} eps)"
            )
            print(rows[-1], flush=True)
        print(
            "frames | uncorrected s | static s | static time ratio | static LM tokens ratio | static visual tokens "
            "ratio | episodes E | E uncorrected s | E static_task s | static_task time ratio | static_task LM tokens "
            "ratio | max |progress(static_task) - progress(static)| dense / anchors"
        )
        print("\n".join(rows))


if __name__ == "__main__":
    main()
