"""Cross-episode calibrated progress: a per-task monotone map from raw log p(" True") to progress.

Per-episode min-max (Eq. 2) makes every episode end at 1, so a failed demo looks as complete as a good one. The
labeller keeps the raw log p at the anchors (``logp_true``, NaN between anchors); a calibration fitted on labelled
episodes maps it to a progress comparable across episodes of one task:

- targets: an anchor at time fraction t/T of a *successful* episode has completed t/T of the task; an anchor of a
  *failed* episode has completed none of it (target 0). So a raw score that failed demos also reach is worth less
  than one only successful demos reach near their end;
- map: scikit-learn's ``IsotonicRegression(increasing=True, y_min=0, y_max=1, out_of_bounds="clip")`` per task,
  stored as its thresholds (``X_thresholds_``, ``y_thresholds_``) in a JSON file, applied with the same linear
  interpolation (``np.interp``) so a saved calibration needs no pickled estimator;
- applying a calibration to an episode of a task it was not fitted on is refused, naming the task.

The output is a progress parquet like any other (dense progress = the calibrated anchors interpolated over frames),
so every weighting scheme accepts it as a progress source.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rabc.io import RabcFileError, write_json
from rabc.progress import ProgressTable

logger = logging.getLogger(__name__)

CALIBRATION_FORMAT = "rabc.progress_calibration/1"


@dataclass
class ProgressCalibration:
    """Per-task isotonic maps raw log p → progress. ``maps[task] = (x thresholds, y thresholds)``, increasing."""

    maps: dict[str, tuple[np.ndarray, np.ndarray]]
    method: str = "isotonic"
    info: dict[str, Any] = field(default_factory=dict)  # episodes fitted on, per task

    def map(self, task: str, logp: np.ndarray) -> np.ndarray:
        """Calibrated progress of raw log p values of ``task``; raises naming the task if it was not fitted."""
        if task not in self.maps:
            raise ValueError(
                f"the progress calibration was fitted on tasks {sorted(self.maps)}, not on {task!r}: fit one on "
                "episodes of this task"
            )
        x, y = self.maps[task]
        return np.interp(np.asarray(logp, dtype=np.float64), x, y)

    def save(self, path: str | Path) -> None:
        doc = {
            "format": CALIBRATION_FORMAT,
            "method": self.method,
            "maps": {t: {"x": x.tolist(), "y": y.tolist()} for t, (x, y) in sorted(self.maps.items())},
            "info": self.info,
        }
        write_json(path, doc)

    @classmethod
    def load(cls, path: str | Path) -> ProgressCalibration:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise RabcFileError(f"{path}: cannot read the progress calibration ({e})") from e
        if doc.get("format") != CALIBRATION_FORMAT:
            raise RabcFileError(f"{path}: not a progress calibration (format {doc.get('format')!r})")
        maps = {t: (np.asarray(m["x"], float), np.asarray(m["y"], float)) for t, m in doc["maps"].items()}
        return cls(maps=maps, method=doc["method"], info=doc.get("info", {}))


def _anchors(table: ProgressTable, episode: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(frame indices, raw log p) of one episode's anchors and its length."""
    rows = table.episode_index == episode
    if not rows.any():
        raise ValueError(f"episode {episode} is not in the progress table")
    if "logp_true" not in table.extra:
        raise ValueError(
            "the progress table has no raw 'logp_true' column (only TOPReward labels can be calibrated)"
        )
    logp, frames = table.extra["logp_true"][rows], table.frame_index[rows]
    at = np.isfinite(logp)
    if not at.any():
        raise ValueError(f"episode {episode} has no raw log p at any anchor")
    return frames[at], logp[at], int(rows.sum())


def fit_calibration(
    table: ProgressTable, tasks: Mapping[int, str], success: Mapping[int, bool]
) -> ProgressCalibration:
    """Fit one isotonic map per task on the episodes in ``success`` (episode → succeeded), tasks: episode → task."""
    from sklearn.isotonic import IsotonicRegression

    by_task: dict[str, list[int]] = {}
    for ep in success:
        by_task.setdefault(tasks[int(ep)], []).append(int(ep))
    maps, info = {}, {}
    for task, episodes in sorted(by_task.items()):
        outcomes = [bool(success[e]) for e in episodes]
        if all(outcomes) or not any(outcomes):
            logger.warning(
                "task %r: calibration fitted on %s episodes only",
                task,
                "successful" if all(outcomes) else "failed",
            )
        xs, ys = [], []
        for ep in episodes:
            frames, logp, n = _anchors(table, ep)
            xs.append(logp)
            ys.append(frames / max(n - 1, 1) if success[ep] else np.zeros(len(logp)))
        iso = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(np.concatenate(xs), np.concatenate(ys))
        maps[task] = (np.asarray(iso.X_thresholds_, float), np.asarray(iso.y_thresholds_, float))
        info[task] = {"episodes": sorted(episodes), "successful": int(sum(outcomes))}
    return ProgressCalibration(maps=maps, info=info)


def calibrate(
    table: ProgressTable,
    calibration: ProgressCalibration,
    tasks: Mapping[int, str],
    *,
    unknown: str = "error",
) -> ProgressTable:
    """A new progress table: each episode's calibrated anchors, interpolated over its frames (float32).

    ``unknown``: what an episode of a task the calibration was not fitted on gets: ``"error"`` (refused, the task
    named) or ``"keep"`` (its progress stays as it is, e.g. the held-out tasks of a demo dataset, which no policy
    trains on); the kept tasks are listed in the provenance."""
    if unknown not in ("error", "keep"):
        raise ValueError(f"unknown must be 'error' or 'keep', got {unknown!r}")
    progress = np.array(table.progress, dtype=np.float32)
    kept: set[str] = set()
    for ep in np.unique(table.episode_index):
        if unknown == "keep" and tasks[int(ep)] not in calibration.maps:
            kept.add(tasks[int(ep)])
            continue
        rows = np.flatnonzero(table.episode_index == ep)
        frames, logp, _ = _anchors(table, int(ep))
        values = calibration.map(tasks[int(ep)], logp)
        progress[rows] = np.interp(table.frame_index[rows], frames, values)
    provenance = dict(table.provenance)
    provenance["calibration"] = {
        "method": calibration.method,
        "fitted_on": calibration.info,
        "uncalibrated_tasks": sorted(kept),
    }
    return ProgressTable(
        index=table.index, episode_index=table.episode_index, frame_index=table.frame_index, progress=progress,
        provenance=provenance, extra=dict(table.extra),
    )  # fmt: skip
