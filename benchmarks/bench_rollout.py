"""Benchmark: closed-loop rollouts, episodes/s of the in-process loop vs the same loop over worker processes.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_rollout.py [--episodes 8] [--workers 2] [--max-steps 150]

Both paths run :func:`rabc.sim.rollout.rollout_task` on the same task and seeds with the same policy (the scripted
expert plus fixed noise, evaluated in the calling process as a trained policy would be) and a rendered camera, as in
an image-policy evaluation. The runs alternate (serial, parallel, serial, parallel, ...) so that a busy machine
slows both alike; the best time of each is used. Worker start-up (forkserver, one Meta-World import per worker) is
included. The outcomes of both paths are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from rabc.sim.rollout import noisy_expert, rollout_task  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="push-v3")
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=150)
    ap.add_argument("--camera", default="corner", help="'none' for state-only rollouts")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    seeds = list(range(1000, 1000 + args.episodes))
    camera = None if args.camera == "none" else args.camera
    best = {0: float("inf"), args.workers: float("inf")}
    outcomes = {}
    for _ in range(args.repeats):
        for workers in best:
            act, reset = noisy_expert(args.task)
            t0 = time.perf_counter()
            r = rollout_task(act, reset, args.task, seeds, batch_size=args.batch_size, camera=camera,
                             image_size=args.image_size, max_steps=args.max_steps, num_workers=workers,
                             show_progress=False)  # fmt: skip
            best[workers] = min(best[workers], time.perf_counter() - t0)
            outcomes[workers] = (r.success.tolist(), r.steps.tolist())
    assert outcomes[0] == outcomes[args.workers], "serial and parallel outcomes differ"
    eps = {w: args.episodes / t for w, t in best.items()}
    print(f"cores available: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()[0]:.1f}")
    print(f"serial (today's loop):  {eps[0]:.3f} episodes/s ({best[0]:.1f} s)")
    print(
        f"{args.workers} worker processes:  {eps[args.workers]:.3f} episodes/s ({best[args.workers]:.1f} s)"
    )
    print(f"ratio parallel / serial: {eps[args.workers] / eps[0]:.2f}x")


if __name__ == "__main__":
    main()
