"""``main``: the whole pipeline at a small default size, on the built-in sim data and the tiny offline scorer.

1. demo dataset (mixed-quality Meta-World demos + oracle progress)    scripts/reproduce.py size=main +dataset_only=true
2. in-domain tiny scorer: a tiny Qwen3-VL trained on its own sim videos
   (seeds disjoint from the demo dataset's), then LoRA-adapted; three
   model seeds, the best on validation episodes is kept                 scripts/make_indomain_scorer.py
3. TOPReward progress of the demos with that scorer                     scripts/score.py
4. the scorer-quality table (raw / corrected / calibrated vs oracle)    scripts/scorer_quality.py
5. weights → weighted and uniform training → evaluation → tables        scripts/reproduce.py table=4 size=main

Each step is the command a user would run, printed before it runs (a process of its own, with its own Hydra
config); finished steps are skipped on a re-run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rabc.app.cli import CONFIGS, runtime_defaults

REPO = CONFIGS.parent


@dataclass(frozen=True)
class MainResult:
    dataset: Path
    out: Path  # runs/ and tables/ of the main preset
    table: dict[str, Any]  # table4_main.json

    def summary(self) -> str:
        t = self.table
        return "\n".join(
            [
                "\n[main] done. Results:",
                f"  dataset + oracle progress: {self.dataset}",
                f"  runs (checkpoints, weights, TensorBoard): {self.out / 'runs'}   "
                f"(tensorboard --logdir {self.out / 'runs'})",
                f"  tables and plots: {self.out / 'tables'}",
                f"  scorer quality: {self.out / 'scorer_quality' / 'scorer_quality.md'}",
                f"\n[main] result (harmful mix, {t['n_seeds']} seeds, {t['test_episodes_per_task_seed']} test "
                f"episodes per task and seed): {t['headline']}",
            ]
        )


def step(title: str, args: list[str], done: Path | None = None) -> None:
    """Run ``python <args>`` in the repository (or say it is already done)."""
    if done is not None and done.exists():
        print(f"[main] {title}: already done ({done.relative_to(REPO)})", flush=True)
        return
    print(f"[main] {title}: {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)
    print(f"[main] {title}: {time.perf_counter() - t0:.0f} s", flush=True)


def run(cfg: DictConfig) -> MainResult:
    runtime_defaults()
    dataset, out = REPO / cfg.dataset_root, REPO / cfg.out
    preset = ["scripts/reproduce.py", "table=4", f"size={cfg.size}", f"dataset.root={dataset}", f"out={out}"]
    scorer = REPO / cfg.scorer_dir
    progress = dataset / "progress" / "topreward_indomain.parquet"
    step(  # the dataset of configs/reproduce/main.yaml (the harmful mix), made before the scorer needs it
        "1/5 demo dataset",
        [*preset, "+dataset_only=true"],
        done=dataset / "meta" / "info.json",
    )
    overrides = []
    if cfg.skip_scoring:
        print("[main] 2-4/5 scoring skipped (skip_scoring=true): oracle progress only")
    else:
        step(
            "2/5 in-domain tiny scorer",
            ["scripts/make_indomain_scorer.py", f"out={scorer}", *cfg.scorer_data],
            done=scorer / "adapter" / "adapter_model.safetensors",
        )
        step(
            "3/5 TOPReward progress (in-domain scorer)",
            [
                "scripts/score.py",
                f"dataset.root={dataset}",
                "scorer=topreward_indomain",
                f"scorer.model={scorer / 'pretrained'}",
                f"scorer.adapter={scorer / 'adapter'}",
                f"out={progress}",
            ],
            done=progress,
        )
        step(
            "4/5 scorer quality",
            [
                "scripts/scorer_quality.py",
                f"model={scorer / 'pretrained'}",
                f"scorer.adapter={scorer / 'adapter'}",
                f"calibration_root={scorer / 'dataset'}",
                f"root={dataset}",
                f"out={out / 'scorer_quality'}",
                f"max_episodes_per_group={cfg.scorer_quality_episodes}",
            ],
            done=out / "scorer_quality" / "scorer_quality.json",
        )
        overrides.append(f"learned_progress={progress}")
    step("5/5 train + evaluate + tables", [*preset, *overrides])
    table = json.loads((out / "tables" / f"table4_{cfg.size}.json").read_text())
    return MainResult(dataset, out, table)
