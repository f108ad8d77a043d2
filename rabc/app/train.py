"""``train``: dataset → weights → policy → Lightning fit → lerobot export (:func:`rabc.lit.run.train`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from rabc.app.cli import runtime_defaults


@dataclass(frozen=True)
class TrainResult:
    """``run_dir`` holds run.json, weights.parquet, checkpoints/, policy/ and train_result.json."""

    run_dir: Path
    steps: int
    skipped_steps: int
    metrics: dict[str, float] = field(default_factory=dict)  # last logged scalars (e.g. val/loss_unweighted)


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> TrainResult:
    """Train one run of the composed ``configs/train.yaml``; ``run_dir`` defaults to Hydra's output dir."""
    runtime_defaults()
    from rabc.lit.run import train

    if run_dir is None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = HydraConfig.get().runtime.output_dir
    res = dict(train(cfg, run_dir))
    return TrainResult(
        run_dir=Path(res.pop("run_dir")),
        steps=int(res.pop("steps")),
        skipped_steps=int(res.pop("skipped_steps")),
        metrics={k: float(v) for k, v in res.items()},
    )
