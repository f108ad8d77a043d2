"""Shared helpers of the fault tests: compose train configs, run ``train.py`` as a subprocess, read curves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"


def compose_train(overrides: list[str]):
    return compose_config("train", overrides)


def tiny_overrides(root, *extra: str) -> list[str]:
    """A few-step ACT run on the tiny dataset, no logger, no validation in the way."""
    return [
        f"dataset.root={root}",
        "experiment=act_top_awr",
        "debug=tiny",
        "logger=none",
        "trainer.enable_model_summary=false",
        "trainer.max_steps=2",
        "trainer.val_check_interval=1000",
        "data.val_fraction=0.3",
        *extra,
    ]


def train_cmd(root, run_dir, *extra: str) -> list[str]:
    """``python train.py ...`` on the tiny dataset, TensorBoard on (the curve is checked), one thread."""
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"dataset.root={root}",
        "experiment=act_top_awr",
        "debug=tiny",
        "trainer.enable_model_summary=false",
        "trainer.val_check_interval=1000",
        "trainer.log_every_n_steps=5",
        "data.val_fraction=0.3",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_train(root, run_dir, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    res = subprocess.run(
        train_cmd(root, run_dir, *extra),
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def checkpoint_step(path: Path) -> int:
    return int(torch.load(path, weights_only=True, map_location="cpu")["global_step"])


def logged_steps(tb_dir: Path, tag: str = "train/loss") -> list[list[int]]:
    """Steps at which ``tag`` was logged, one list per event file (one file per process), oldest first."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = []
    for f in sorted(tb_dir.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime):
        acc = EventAccumulator(str(f))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            out.append([e.step for e in acc.Scalars(tag)])
    return out
