"""``ensemble_progress``: the frame-wise mean of several progress parquets of one dataset — an ensemble of scorers
(``python scripts/ensemble_progress.py``; the math: :func:`rabc.progress.mean_progress`).

The result is a progress parquet like any other (its provenance lists the members), so it is a progress source
for every weighting scheme: ``python train.py progress=<out> weighting=...``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsembleResult:
    out: Path
    members: list[Path]

    def summary(self) -> str:
        return f"mean progress of {len(self.members)} members: {self.out}"


def run(cfg: DictConfig) -> EnsembleResult:
    """Read ``cfg.inputs`` (checked against ``cfg.dataset_root``'s fingerprint when given), write their mean."""
    from rabc.progress import mean_progress, read_progress, write_progress

    inputs = [Path(str(p)) for p in cfg.inputs or []]
    fingerprint = None
    if cfg.dataset_root:
        from rabc.data import dataset_info

        fingerprint = dataset_info(cfg.dataset_root).fingerprint
    tables = [read_progress(p, expect_fingerprint=fingerprint) for p in inputs]
    out = Path(str(cfg.out))
    write_progress(out, mean_progress(tables, [str(p) for p in inputs]))
    log.info("ensemble progress: %s (%d members)", out, len(inputs))
    return EnsembleResult(out, inputs)
