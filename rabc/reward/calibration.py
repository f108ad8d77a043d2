"""Cross-episode calibrated progress: a per-task monotone map from a raw anchor score to progress.

Per-episode min-max (Eq. 2) makes every episode end at 1, so a failed demo looks as complete as a good one. The
labeller keeps the raw scores at the anchors (``logp_true`` / ``logp_false``, NaN between anchors); a calibration
fitted on labelled episodes maps one of them (``signal``: ``"logp"``, log p(" True"), the paper's score; or
``"margin"``, log p(" True") − log p(" False"), which discounts probability mass the model puts on neither answer)
to a progress comparable across episodes of one task:

- targets: an anchor at time fraction t/T of a *successful* episode has completed t/T of the task; an anchor of a
  *failed* episode has completed none of it (target 0). So a raw score that failed demos also reach is worth less
  than one only successful demos reach near their end;
- map (``method``): ``"isotonic"``, scikit-learn's ``IsotonicRegression(increasing=True, y_min=0, y_max=1,
  out_of_bounds="clip")`` per task, stored as its thresholds (``X_thresholds_``, ``y_thresholds_``); or
  ``"logistic"``, progress = sigmoid(a·log p + b) with a > 0, fitted by cross-entropy against the same targets
  (scipy's L-BFGS-B; fractional targets, which scikit-learn's LogisticRegression does not take), two numbers per
  task instead of a step function, stored tabulated on 512 points over the fitted range ± 3 standard deviations.
  Both are saved as (x, y) points in a JSON file and applied with linear interpolation (``np.interp``, clipped at
  the ends), so a saved calibration needs no pickled estimator;
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
METHODS = ("isotonic", "logistic")
SIGNALS = ("logp", "margin")


def anchor_signal(logp_true: np.ndarray, logp_false: np.ndarray | None, signal: str) -> np.ndarray:
    """The calibration's input at the anchors: log p(" True") (``"logp"``) or the True − False margin."""
    if signal not in SIGNALS:
        raise ValueError(f"calibration signal must be one of {SIGNALS}, got {signal!r}")
    if signal == "logp":
        return np.asarray(logp_true, dtype=np.float64)
    if logp_false is None:
        raise ValueError("the 'margin' calibration signal needs raw log p(' False') ('logp_false')")
    return np.asarray(logp_true, dtype=np.float64) - np.asarray(logp_false, dtype=np.float64)


@dataclass
class ProgressCalibration:
    """Per-task monotone maps raw anchor score (``signal``) → progress. ``maps[task] = (x points, y points)``,
    increasing, applied by linear interpolation (the isotonic thresholds, or the logistic curve tabulated)."""

    maps: dict[str, tuple[np.ndarray, np.ndarray]]
    method: str = "isotonic"
    info: dict[str, Any] = field(default_factory=dict)  # episodes fitted on, per task
    signal: str = "logp"

    def map(self, task: str, logp: np.ndarray) -> np.ndarray:
        """Calibrated progress of raw scores (of this calibration's ``signal``) of ``task``; raises naming the task
        if it was not fitted."""
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
            "signal": self.signal,
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
        return cls(
            maps=maps, method=doc["method"], info=doc.get("info", {}), signal=doc.get("signal", "logp")
        )


def _anchors(table: ProgressTable, episode: int, signal: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(frame indices, raw score of ``signal``) of one episode's anchors and its length."""
    rows = table.episode_index == episode
    if not rows.any():
        raise ValueError(f"episode {episode} is not in the progress table")
    needed = ("logp_true",) if signal == "logp" else ("logp_true", "logp_false")
    for column in needed:
        if column not in table.extra:
            raise ValueError(
                f"the progress table has no raw {column!r} column (only TOPReward labels can be calibrated)"
            )
    false = table.extra["logp_false"][rows] if signal == "margin" else None
    score, frames = anchor_signal(table.extra["logp_true"][rows], false, signal), table.frame_index[rows]
    at = np.isfinite(score)
    if not at.any():
        raise ValueError(f"episode {episode} has no raw {signal} at any anchor")
    return frames[at], score[at], int(rows.sum())


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) with a > 0 minimising the mean cross-entropy of sigmoid(a·x + b) against targets ``y`` in [0, 1]."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    mu, sd = float(x.mean()), max(float(x.std()), 1e-12)
    z = (x - mu) / sd  # fitted on standardised x, (log slope, intercept): a > 0 by construction

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        k = np.exp(theta[0])
        u = k * z + theta[1]
        value = -float(np.mean(y * log_expit(u) + (1 - y) * log_expit(-u)))
        r = expit(u) - y
        return value, np.array([np.mean(r * z) * k, np.mean(r)])

    theta = minimize(loss, np.zeros(2), jac=True, method="L-BFGS-B").x
    k = float(np.exp(theta[0]))
    return k / sd, float(theta[1]) - k * mu / sd


def fit_calibration(
    table: ProgressTable,
    tasks: Mapping[int, str],
    success: Mapping[int, bool],
    method: str = "isotonic",
    signal: str = "logp",
) -> ProgressCalibration:
    """Fit one monotone map per task (``method``: isotonic or logistic) from the anchors' ``signal`` (logp or
    margin) on the episodes in ``success`` (episode → succeeded), tasks: episode → task."""
    from scipy.special import expit
    from sklearn.isotonic import IsotonicRegression

    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    if signal not in SIGNALS:
        raise ValueError(f"calibration signal must be one of {SIGNALS}, got {signal!r}")
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
            frames, logp, n = _anchors(table, ep, signal)
            xs.append(logp)
            ys.append(frames / max(n - 1, 1) if success[ep] else np.zeros(len(logp)))
        x, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)
        if method == "isotonic":
            iso = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(x, y)
            maps[task] = (np.asarray(iso.X_thresholds_, float), np.asarray(iso.y_thresholds_, float))
        else:
            a, b = fit_logistic(x, y)
            grid = np.linspace(x.min() - 3 * x.std(), x.max() + 3 * x.std(), 512)
            maps[task] = (grid, expit(a * grid + b))
        info[task] = {"episodes": sorted(episodes), "successful": int(sum(outcomes))}
    return ProgressCalibration(maps=maps, method=method, info=info, signal=signal)


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
        frames, logp, _ = _anchors(table, int(ep), calibration.signal)
        values = calibration.map(tasks[int(ep)], logp)
        progress[rows] = np.interp(table.frame_index[rows], frames, values)
    provenance = dict(table.provenance)
    provenance["calibration"] = {
        "method": calibration.method,
        "signal": calibration.signal,
        "fitted_on": calibration.info,
        "uncalibrated_tasks": sorted(kept),
    }
    return ProgressTable(
        index=table.index, episode_index=table.episode_index, frame_index=table.frame_index, progress=progress,
        provenance=provenance, extra=dict(table.extra),
    )  # fmt: skip
