"""The main job: the whole pipeline at a small default size, on the built-in sim data and the tiny offline scorer.

    python scripts/main.py [--skip-scoring]

1. demo dataset (mixed-quality Meta-World demos + oracle progress)    scripts/make_dataset.py
2. in-domain tiny scorer: a tiny Qwen3-VL trained on its own sim videos
   (seeds disjoint from the demo dataset's), then LoRA-adapted           scripts/make_indomain_scorer.py
3. TOPReward progress of the demos with that scorer                     scripts/score.py
4. weights → weighted and uniform training → evaluation → tables        scripts/reproduce.py table=4 size=main

Each step is the CLI a user would run, printed before it runs; finished steps are skipped on a re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO / "data" / "metaworld_mixed"
SCORER = REPO / "artifacts" / "indomain_scorer"
SCORER_SEED_START = 500_000  # the scorer's own training videos use env seeds the demo dataset never uses
TOPREWARD_PROGRESS = DATASET / "progress" / "topreward_indomain.parquet"
# the scorer's own videos: the main job's tasks and mix (give-ups, wrong targets, push-aways), other env seeds
SCORER_DATA = [
    "+dataset.generate.train_tasks=[push-v3,drawer-open-v3,button-press-topdown-v3]",
    "+dataset.generate.heldout_tasks=[drawer-close-v3]",
    "+dataset.generate.mix={clean:0.45,fail:0.35,wrong_target:0.1,push_away:0.1}",
    "+dataset.generate.corruption={fail_tail_steps:150,trigger_range:[0.1,0.4],spoil_steps:80}",
]


def step(title: str, args: list[str], done: Path | None = None) -> None:
    if done is not None and done.exists():
        print(f"[main] {title}: already done ({done.relative_to(REPO)})", flush=True)
        return
    cmd = [sys.executable, *args]
    print(f"[main] {title}: {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    print(f"[main] {title}: {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-scoring", action="store_true", help="oracle progress only (no VLM scoring)")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    step(  # the dataset of configs/reproduce/main.yaml (the harmful mix), made before the scorer needs it
        "1/4 demo dataset",
        ["scripts/reproduce.py", "table=4", "size=main", "+dataset_only=true"],
        done=DATASET / "meta" / "info.json",
    )
    overrides = []
    scorer = REPO / "scripts" / "score.py"
    if args.skip_scoring:
        print("[main] 2-3/4 scoring skipped (--skip-scoring): oracle progress only")
    elif not scorer.is_file():
        print(
            "[main] 2-3/4 scoring skipped: scripts/score.py is not part of this version; oracle progress only"
        )
    else:
        step(
            "2/4 in-domain tiny scorer",
            [
                "scripts/make_indomain_scorer.py",
                f"out={SCORER}",
                f"+dataset.generate.seed_start={SCORER_SEED_START}",
                *SCORER_DATA,
            ],
            done=SCORER / "adapter" / "adapter_model.safetensors",
        )
        step(
            "3/4 TOPReward progress (in-domain scorer)",
            [
                "scripts/score.py",
                f"dataset.root={DATASET}",
                "scorer=topreward_indomain",
                f"scorer.model={SCORER / 'pretrained'}",
                f"scorer.adapter={SCORER / 'adapter'}",
                f"out={TOPREWARD_PROGRESS}",
            ],
            done=TOPREWARD_PROGRESS,
        )
        overrides.append(f"learned_progress={TOPREWARD_PROGRESS}")
    step("4/4 train + evaluate + tables", ["scripts/reproduce.py", "table=4", "size=main", *overrides])
    out = REPO / "runs" / "main"
    print("\n[main] done. Results:")
    print(f"  dataset + oracle progress: {DATASET}")
    print(
        f"  runs (checkpoints, weights, TensorBoard): {out / 'runs'}   (tensorboard --logdir {out / 'runs'})"
    )
    print(f"  tables and plots: {out / 'tables'}")
    table = json.loads((out / "tables" / "table4_main.json").read_text())
    print(f"\n[main] result (harmful mix, {table['n_seeds']} seeds, {table['test_episodes_per_task_seed']} test "
          f"episodes per task and seed): {table['headline']}")


if __name__ == "__main__":
    main()
