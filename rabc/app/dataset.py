"""``dataset``: generate the mixed-quality Meta-World demo dataset and its oracle progress."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rabc.app.cli import runtime_defaults, to_container


@dataclass(frozen=True)
class DatasetResult:
    root: Path
    oracle_progress: Path
    sidecar: Path
    stats: dict[str, Any]  # num_episodes, num_frames, total_seconds, seconds_per_episode, video_bytes
    per_quality: dict[str, dict[str, Any]]  # quality name -> {episodes, success_rate}

    def summary(self) -> str:
        s = self.stats
        lines = [
            f"dataset:         {self.root}  ({s['num_episodes']} episodes, {s['num_frames']} frames)",
            f"oracle progress: {self.oracle_progress}",
            f"sidecar:         {self.sidecar}",
            f"time {s['total_seconds']:.1f} s ({s['seconds_per_episode']:.2f} s/episode), "
            f"video {s['video_bytes'] / 1e6:.2f} MB",
        ]
        lines += [
            f"  {name:9s} {q['episodes']:4d} episodes, success {q['success_rate']:.2f}"
            for name, q in self.per_quality.items()
            if q["episodes"]
        ]
        return "\n".join(lines)


def run(cfg: DictConfig) -> DatasetResult:
    """Generate ``cfg.dataset`` (:class:`rabc.data.generate.GenerateConfig`); a relative root is taken from the
    directory the command was started in."""
    runtime_defaults()
    from rabc.data.generate import GenerateConfig, generate_dataset
    from rabc.data.lerobot_io import SIDECAR_PATH
    from rabc.data.oracle import oracle_progress_path

    kwargs = to_container(cfg.dataset)
    kwargs["root"] = os.path.abspath(kwargs["root"])
    gen = GenerateConfig(**kwargs)
    side = generate_dataset(gen, show_progress=True)
    root = Path(gen.root)
    return DatasetResult(
        root, oracle_progress_path(root), root / SIDECAR_PATH, side["stats"], side["per_quality"]
    )
