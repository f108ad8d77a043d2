"""Benchmark: closed-loop rollouts of an evaluation (several tasks), episodes/s of the in-process loop vs the same
loop over worker processes.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_rollout.py [--tasks push-v3 ...] [--episodes 30] [--workers 2]

All paths run :func:`rabc.sim.rollout.rollout_task` on the same tasks and seeds with the same policy (the scripted
expert plus fixed noise, evaluated in the calling process as a trained policy would be) and a rendered camera, as in
an image-policy evaluation:

* ``serial``: today's in-process loop (``num_workers=0``);
* ``workers per task``: ``num_workers=2``, worker processes started and stopped by every ``rollout_task`` call;
* ``one pool``: one :class:`rabc.sim.rollout.RolloutWorkers` for all tasks, as ``rabc.lit.evaluate.evaluate`` uses it.

The runs alternate (serial, per task, pool, serial, ...) so that a busy machine slows all alike; the best time of
each is used. Worker start-up (forkserver, one Meta-World import per worker) is included. The outcomes of all
paths are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

from rabc.sim.rollout import RolloutWorkers, noisy_expert, rollout_task  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["push-v3", "drawer-open-v3", "button-press-topdown-v3"])
    ap.add_argument("--episodes", type=int, default=30, help="per task")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--camera", default="corner", help="'none' for state-only rollouts")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    seeds = list(range(1000, 1000 + args.episodes))
    camera = None if args.camera == "none" else args.camera
    kw = dict(batch_size=args.batch_size, camera=camera, image_size=args.image_size, max_steps=args.max_steps,
              show_progress=False)  # fmt: skip

    def run(mode: str) -> list[tuple[list[bool], list[int]]]:
        pool = None
        if mode == "one pool":
            pool = RolloutWorkers(args.tasks[0], args.batch_size, args.workers, camera, args.image_size)
        try:
            out = []
            for task in args.tasks:
                workers = args.workers if mode == "workers per task" else 0
                r = rollout_task(*noisy_expert(task), task, seeds, num_workers=workers, workers=pool, **kw)
                out.append((r.success.tolist(), r.steps.tolist()))
            return out
        finally:
            if pool is not None:
                pool.close()

    modes = ["serial", "workers per task", "one pool"]
    best = dict.fromkeys(modes, float("inf"))
    outcomes = {}
    for _ in range(args.repeats):
        for mode in modes:
            t0 = time.perf_counter()
            outcomes[mode] = run(mode)
            best[mode] = min(best[mode], time.perf_counter() - t0)
    assert all(outcomes[m] == outcomes["serial"] for m in modes), "the paths' outcomes differ"
    n = args.episodes * len(args.tasks)
    print(f"cores available: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()[0]:.1f}")
    print(f"{len(args.tasks)} tasks x {args.episodes} episodes, batches of {args.batch_size}, "
          f"{args.max_steps} steps, camera {args.camera}")  # fmt: skip
    for mode in modes:
        print(f"{mode:>17}: {n / best[mode]:.3f} episodes/s ({best[mode]:.1f} s)"
              + ("" if mode == "serial" else f"  ratio vs serial {best['serial'] / best[mode]:.2f}x"))  # fmt: skip


if __name__ == "__main__":
    main()
