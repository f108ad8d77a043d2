"""``calibrate``: fit a per-task progress calibration on labelled episodes and apply it to a progress parquet
(``python scripts/calibrate.py``; the math: :mod:`rabc.reward.calibration`).

The calibrated file is a progress parquet like any other (its provenance names the calibration), so it is a
progress source for every weighting scheme: ``python train.py progress=<out> weighting=...``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrateResult:
    """The calibration JSON used (fitted or loaded) and the calibrated progress parquet."""

    calibration: Path
    out: Path
    tasks: list[str]

    def summary(self) -> str:
        return f"calibration ({', '.join(self.tasks)}): {self.calibration}\ncalibrated progress: {self.out}"


def _tasks(info: Any) -> dict[int, str]:
    """Episode → task string of a :class:`rabc.data.DatasetInfo`."""
    eps = info.episodes
    return dict(zip(eps["episode_index"].astype(int), eps["task"].astype(str)))


def run(cfg: DictConfig) -> CalibrateResult:
    """Fit on ``cfg.fit`` (a progress parquet with raw log p and its dataset's success labels; ``fit.episodes``:
    all labelled ones by default) or load ``cfg.calibration``; apply to ``cfg.apply``; write ``cfg.out``."""
    from rabc.data import dataset_info
    from rabc.progress import read_progress, write_progress
    from rabc.reward.calibration import ProgressCalibration, calibrate, fit_calibration

    out = Path(str(cfg.out))
    if cfg.calibration:
        cal_path = Path(str(cfg.calibration))
        cal = ProgressCalibration.load(cal_path)
    else:
        if not (cfg.fit.progress and cfg.fit.root):
            raise ValueError(
                "give calibration=<json> or fit.progress=<parquet> fit.root=<dataset> to fit one"
            )
        fit_info = dataset_info(cfg.fit.root)
        eps = fit_info.episodes
        if eps["success"].isna().any():
            raise ValueError(f"{cfg.fit.root}: episodes lack the 'success' labels a calibration is fitted on")
        if cfg.fit.episodes is not None:
            eps = eps[eps["episode_index"].isin([int(e) for e in cfg.fit.episodes])]
        success = dict(zip(eps["episode_index"].astype(int), eps["success"].astype(bool)))
        fit_table = read_progress(cfg.fit.progress, expect_fingerprint=fit_info.fingerprint)
        cal = fit_calibration(
            fit_table, _tasks(fit_info), success, method=str(cfg.fit.method), signal=str(cfg.fit.signal)
        )
        cal_path = Path(str(cfg.calibration_out or out.with_suffix(".calibration.json")))
        cal.save(cal_path)
    apply_info = dataset_info(cfg.apply.root)
    table = read_progress(cfg.apply.progress, expect_fingerprint=apply_info.fingerprint)
    calibrated = calibrate(table, cal, _tasks(apply_info), unknown=str(cfg.unknown_tasks))
    calibrated.provenance["calibration"]["path"] = str(cal_path)
    write_progress(out, calibrated)
    log.info("calibrated progress: %s (calibration %s)", out, cal_path)
    return CalibrateResult(cal_path, out, sorted(cal.maps))
