"""Shared machinery of every weighting scheme: episode segments, horizons, NaN policy, increments, temperature.

All functions are vectorised over the whole progress table (arrays of shape (N,), sorted by global ``index``);
episodes are contiguous runs of ``episode_index`` and are handled with segment start/end arrays, never a Python
loop over rows.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rabc.progress import ProgressTable

log = logging.getLogger(__name__)

NanPolicy = Literal["error", "zero", "interpolate"]
Direction = Literal["backward", "forward"]
NAN_POLICIES = ("error", "zero", "interpolate")
_TEMPERATURE_RE = re.compile(r"^\s*std\s*(?:/\s*(\d+(?:\.\d*)?|\.\d+)\s*)?$")


@dataclass
class WeightResult:
    """Per-frame output of a scheme. Arrays have shape (N,), sorted by global ``index``.

    ``advantage`` is the quantity the scheme ranks or exponentiates (already divided by the temperature);
    NaN where the frame had no valid progress (``nan_policy="zero"``). ``info`` holds resolved, derived values
    (horizon in frames, temperature value, increment statistics, NaN counts) for the weights-file metadata.
    """

    index: np.ndarray  # int64
    advantage: np.ndarray  # float32
    weight: np.ndarray  # float32
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = np.asarray(self.index, dtype=np.int64)
        self.advantage = np.asarray(self.advantage, dtype=np.float32)
        self.weight = np.asarray(self.weight, dtype=np.float32)
        if not (len(self.index) == len(self.advantage) == len(self.weight)):
            raise ValueError(
                f"weight result arrays differ in length: index {len(self.index)}, "
                f"advantage {len(self.advantage)}, weight {len(self.weight)}"
            )
        if not np.all(np.isfinite(self.weight)) or np.any(self.weight < 0):
            raise ValueError("weights must be finite and non-negative")

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Segments:
    """Episode segments of a sorted progress table. ``start``/``end`` have shape (N,): the first and one-past-last
    row of each row's episode; ``starts`` has shape (E,): first row of each episode."""

    starts: np.ndarray
    ends: np.ndarray
    episode: np.ndarray  # (E,) episode index of each segment
    start: np.ndarray  # (N,)
    end: np.ndarray  # (N,)
    seg_id: np.ndarray  # (N,) segment number of each row


def segments(table: ProgressTable) -> Segments:
    """Episode segments of ``table``; raises ValueError if an episode is split or has gaps in its global index."""
    ep, idx = table.episode_index, table.index
    n = len(ep)
    if n == 0:
        raise ValueError("progress table is empty")
    pos_t = np.int32 if n < 2**31 - 1 else np.int64  # halves the memory traffic of the (N,) position arrays
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    np.not_equal(ep[1:], ep[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start).astype(pos_t)
    ends = np.append(starts[1:], pos_t(n))
    seg_ep = ep[starts]
    if len(np.unique(seg_ep)) != len(seg_ep):
        vals, counts = np.unique(seg_ep, return_counts=True)
        raise ValueError(
            f"episode {int(vals[counts > 1][0])} is not contiguous in global index: its frames are interleaved "
            "with another episode's"
        )
    gap = (np.diff(idx) != 1) & ~is_start[1:]
    if gap.any():
        row = int(np.flatnonzero(gap)[0])
        raise ValueError(
            f"episode {int(ep[row])} has a gap in its global index between {int(idx[row])} and "
            f"{int(idx[row + 1])}: the progress table must hold every frame"
        )
    seg_id = np.cumsum(is_start, dtype=pos_t) - 1
    return Segments(starts, ends, seg_ep, starts[seg_id], ends[seg_id], seg_id)


def horizon_frames(horizon_s: float | None, fps: float) -> int:
    """Horizon in frames: ``round(horizon_s · fps)``, at least 1; ``None`` means one frame."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    if horizon_s is None:
        return 1
    if not np.isfinite(horizon_s) or horizon_s <= 0:
        raise ValueError(f"horizon_s must be a positive number of seconds, got {horizon_s}")
    return max(1, int(round(horizon_s * fps)))


def check_horizon_covers_chunk(horizon: int, direction: str, executed_actions: int, fps: float) -> None:
    """A forward increment over ``horizon`` frames is what the actions executed from frame t cause; a horizon
    shorter than the policy's executed chunk (``n_action_steps``) credits a frame with only part of what its chunk
    does. Raises ValueError naming both lengths and the horizon_s that would fit. The paper's backward increment
    (credit for the progress that led to frame t) has no such tie and is not checked."""
    if direction == "forward" and horizon < executed_actions:
        raise ValueError(
            f"weighting horizon is {horizon} frames ({horizon / fps:.3g} s at {fps:g} fps), shorter than the "
            f"{executed_actions} actions the policy executes per chunk (policy.n_action_steps): set "
            f"weighting.horizon_s >= {executed_actions / fps:.3g} or lower policy.n_action_steps"
        )


def apply_nan_policy(progress: np.ndarray, seg: Segments, policy: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Resolve NaN progress. Returns (progress float64 (N,), valid mask (N,), number of NaN frames).

    - ``error``: any NaN raises ValueError naming the first affected episode;
    - ``zero``: NaN frames stay NaN and are marked invalid (the scheme gives them weight 0 and leaves them out of
      dataset statistics);
    - ``interpolate``: linear interpolation within the episode (constant beyond the first/last valid frame); an
      episode without any valid frame raises ValueError.
    """
    if policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {policy!r}")
    p = np.asarray(progress, dtype=np.float64)
    nan = ~np.isfinite(p)
    n_nan = int(nan.sum())
    if n_nan == 0:
        return p, np.ones(len(p), dtype=bool), 0
    first_ep = int(seg.episode[seg.seg_id[np.flatnonzero(nan)[0]]])
    if policy == "error":
        raise ValueError(
            f"progress has {n_nan} NaN/inf frame(s) (first in episode {first_ep}); set nan_policy to "
            "'zero' or 'interpolate' to handle them explicitly"
        )
    log.warning(
        "progress has %d NaN/inf frame(s) (first in episode %d): nan_policy=%s", n_nan, first_ep, policy
    )
    if policy == "zero":
        return p, ~nan, n_nan
    # interpolate: previous/next valid row within the same episode, found with running max/min over positions
    pos = np.arange(len(p), dtype=seg.start.dtype)
    valid = ~nan
    prev = np.maximum.accumulate(np.where(valid, pos, -1))
    nxt = np.minimum.accumulate(np.where(valid, pos, len(p))[::-1])[::-1]
    has_prev = prev >= seg.start
    has_next = nxt < seg.end
    empty = ~(has_prev | has_next)
    if empty.any():
        bad = int(seg.episode[seg.seg_id[np.flatnonzero(empty)[0]]])
        raise ValueError(f"episode {bad} has no finite progress value: cannot interpolate")
    prev_c = np.where(has_prev, prev, nxt)
    next_c = np.where(has_next, nxt, prev_c)
    span = (next_c - prev_c).astype(np.float64)
    frac = np.divide(pos - prev_c, span, out=np.zeros(len(p)), where=span > 0)
    filled = p[prev_c] + frac * (p[next_c] - p[prev_c])
    return np.where(valid, p, filled), np.ones(len(p), dtype=bool), n_nan


def increments(
    progress: np.ndarray,
    valid: np.ndarray,
    seg: Segments,
    horizon: int,
    direction: str,
    rescale_partial: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Progress increments over ``horizon`` frames, clamped at the episode boundary.

    backward (TOPReward Eq. 3, the paper's a_t): d_t = s_t − s_{max(t−H, start)};
    forward (SARM Eq. 8, lerobot RA-BC): d_t = s_{min(t+H, end−1)} − s_t.
    A clamped increment spans k < H frames; ``rescale_partial`` multiplies it by H / k so the first (backward) or
    last (forward) H frames of an episode are not ranked low merely for spanning less time (k = 0 gives 0).
    Returns (d float64 (N,), valid (N,)); a frame is valid when both endpoints have finite progress.
    """
    pos = np.arange(len(progress), dtype=seg.start.dtype)
    if direction == "backward":
        other = np.maximum(pos - horizon, seg.start)
        d = progress - progress[other]
        span = pos - other
    elif direction == "forward":
        other = np.minimum(pos + horizon, seg.end - 1)
        d = progress[other] - progress
        span = other - pos
    else:
        raise ValueError(f"direction must be 'backward' or 'forward', got {direction!r}")
    if rescale_partial:
        partial = span < horizon
        d[partial] *= horizon / np.maximum(span[partial], 1)
    ok = valid & valid[other]
    return np.where(ok, d, np.nan), ok


def resolve_temperature(temperature: float | str, increment_std: float) -> float:
    """Temperature value: a positive float, or ``"std"`` / ``"std/<k>"`` = the dataset increment std divided by k."""
    if isinstance(temperature, str):
        m = _TEMPERATURE_RE.match(temperature)
        if m is None:
            raise ValueError(
                f"temperature must be a positive number, 'std' or 'std/<k>', got {temperature!r}"
            )
        divisor = float(m.group(1)) if m.group(1) else 1.0
        if divisor <= 0:
            raise ValueError(f"temperature divisor must be positive, got {temperature!r}")
        value = increment_std / divisor
        if not np.isfinite(value) or value <= 0:
            log.warning("increment std is %s: temperature %r falls back to 1.0", increment_std, temperature)
            return 1.0
        return float(value)
    value = float(temperature)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    return value


def check_temperature(temperature: float | str) -> None:
    """Validate a temperature at construction time (so a config typo fails before any data is read)."""
    resolve_temperature(temperature, 1.0)
