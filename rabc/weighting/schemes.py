"""Weighting schemes: progress table → (advantage, weight) per frame, vectorised over the whole dataset.

Every scheme is a dataclass whose fields are exactly the keys of its Hydra config under ``configs/weighting/``
and is called as ``scheme(progress, fps, episode_info=None) -> WeightResult``.

Advantage-based schemes share one definition (``AdvantageScheme``): the progress increment over a horizon given in
seconds, centred on its dataset mean and divided by a temperature (a float, or ``"std"`` / ``"std/k"``: the
dataset increment standard deviation divided by k).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from rabc.progress import ProgressTable
from rabc.weighting.core import (
    NAN_POLICIES,
    Segments,
    WeightResult,
    apply_nan_policy,
    check_temperature,
    horizon_frames,
    increments,
    resolve_temperature,
    segments,
)
from rabc.weighting.diagnostics import effective_sample_size

log = logging.getLogger(__name__)


@dataclass
class EpisodeInfo:
    """Per-episode facts some schemes need. Arrays have shape (E,)."""

    episode_index: np.ndarray
    success: np.ndarray | None = None  # bool
    quality: np.ndarray | None = (
        None  # str: the demo class (clean, noise, fail, ...) where the dataset has one
    )

    def __post_init__(self) -> None:
        self.episode_index = np.asarray(self.episode_index, dtype=np.int64)
        if self.success is not None:
            self.success = np.asarray(self.success, dtype=bool)
            if len(self.success) != len(self.episode_index):
                raise ValueError(f"{len(self.success)} success labels for {len(self.episode_index)} episodes")
        if self.quality is not None:
            self.quality = np.asarray(self.quality).astype(str)
            if len(self.quality) != len(self.episode_index):
                raise ValueError(f"{len(self.quality)} quality labels for {len(self.episode_index)} episodes")

    def success_for(self, episodes: np.ndarray) -> np.ndarray:
        """Success label of each episode in ``episodes`` (E',); raises ValueError for an unknown episode."""
        if self.success is None:
            raise ValueError(
                "the dataset has no 'success' column: this scheme needs per-episode success labels"
            )
        return self._lookup(self.success, episodes, "success")

    def clean_for(self, episodes: np.ndarray) -> np.ndarray:
        """Whether each episode in ``episodes`` is a clean demo (E',) bool."""
        if self.quality is None:
            raise ValueError(
                "the dataset has no 'quality' column: clean-only BC needs per-episode demo classes"
            )
        return self._lookup(self.quality, episodes, "quality") == "clean"

    def _lookup(self, values: np.ndarray, episodes: np.ndarray, what: str) -> np.ndarray:
        order = np.argsort(self.episode_index)
        keys = self.episode_index[order]
        pos = np.minimum(np.searchsorted(keys, episodes), len(keys) - 1)
        found = keys[pos] == episodes
        if not found.all():
            raise ValueError(f"no {what} label for episode(s) {episodes[~found][:5].tolist()}")
        return values[order][pos]


def check_progress_args(
    nan_policy: str, horizon_s: float | None, temperature: float | str, allow_auto: bool = False
) -> None:
    """Validate the arguments every progress-increment scheme shares (ValueError naming the bad one);
    ``allow_auto``: the scheme accepts ``temperature="auto"``."""
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if horizon_s is not None and (not np.isfinite(horizon_s) or horizon_s <= 0):
        raise ValueError(f"horizon_s must be a positive number of seconds or null, got {horizon_s}")
    if not (allow_auto and temperature == "auto"):
        check_temperature(temperature)


class WeightingScheme:
    """Base class. Subclasses are dataclasses and implement :meth:`compute`."""

    #: the scheme's type (``SCHEMES`` key); each subclass also has a ``name`` field, the label a config gives it
    #: (run names, file metadata), defaulting to ``kind``.
    kind: ClassVar[str] = "base"
    name: str

    def params(self) -> dict[str, Any]:
        """Constructor arguments (the config keys), JSON-serialisable."""
        return asdict(self)  # type: ignore[call-overload]

    def weight_cap(self) -> float | None:
        """The largest weight the scheme gives by construction (its ``max_weight`` clip), None without a clip;
        the diagnostics report the share of frames at the cap."""
        return None

    def __call__(
        self, progress: ProgressTable, fps: float, episode_info: EpisodeInfo | None = None
    ) -> WeightResult:
        seg = segments(progress)
        result = self.compute(progress, fps, seg, episode_info)
        result.info.setdefault("scheme", self.kind)
        result.info.setdefault("num_episodes", len(seg.starts))
        return result

    def compute(
        self, progress: ProgressTable, fps: float, seg: Segments, episode_info: EpisodeInfo | None
    ) -> WeightResult:
        raise NotImplementedError


@dataclass
class Uniform(WeightingScheme):
    """Plain behaviour cloning: every frame has weight 1 (advantage 0)."""

    kind: ClassVar[str] = "uniform"
    name: str = "uniform"

    def compute(
        self, progress: ProgressTable, fps: float, seg: Segments, episode_info: EpisodeInfo | None
    ) -> WeightResult:
        n = len(progress)
        return WeightResult(progress.index, np.zeros(n, np.float32), np.ones(n, np.float32))


@dataclass
class AdvantageScheme(WeightingScheme):
    """Advantage shared by every advantage-based scheme (TOPReward Eq. 3, generalised):

        d_t = s_t − s_{t−H}  (backward, the paper)   or   s_{t+H} − s_t  (forward),  clamped to the episode,
        A_t = (d_t − mean_dataset(d)) / T   (``center=False`` skips the mean).

    Args:
        horizon_s: H in seconds (converted with the dataset fps, at least one frame); ``None`` = one frame, the
            paper's s_t − s_{t−1}.
        temperature: T, a positive float or ``"std"`` / ``"std/k"`` (std of d over the dataset, divided by k), or
            ``"auto"``: the T whose weights have the Kish effective sample size fraction ``target_ess`` (bisection
            on log T; the sharpest reachable T, with a warning, when the target is below what any T gives).
        target_ess: ESS fraction (Σw)²/(N·Σw²) that ``temperature="auto"`` aims at.
        direction: ``"backward"`` (paper) or ``"forward"``.
        center: subtract the dataset mean of d.
        rescale_partial: scale increments clamped at the episode boundary (span k < H frames) by H / k, so the
            first (backward) or last (forward) H frames of each episode are not ranked low for spanning less time.
        nan_policy: ``"error"`` | ``"zero"`` (NaN frames get weight 0, excluded from statistics) | ``"interpolate"``.
    """

    name: str = "advantage"
    horizon_s: float | None = None
    temperature: float | str = 1.0
    direction: str = "backward"
    center: bool = True
    rescale_partial: bool = False
    nan_policy: str = "error"
    target_ess: float = 0.6

    def __post_init__(self) -> None:
        if not 0 < self.target_ess <= 1:
            raise ValueError(f"target_ess must be in (0, 1], got {self.target_ess}")
        if self.direction not in ("backward", "forward"):
            raise ValueError(f"direction must be 'backward' or 'forward', got {self.direction!r}")
        check_progress_args(self.nan_policy, self.horizon_s, self.temperature, allow_auto=True)

    def auto_temperature(self, centred: np.ndarray, std: float) -> float:
        """T in [std/1000, 1000·std] whose weights reach ESS fraction ``target_ess`` (bisection on log T)."""
        if centred.size == 0 or std <= 0:
            return 1.0

        def ess(t: float) -> float:
            w = self.weights_from_advantage(centred / t, np.ones(centred.size, bool))
            return effective_sample_size(w) / w.size if w.sum() > 0 else 0.0

        lo, hi = np.log(std / 1000), np.log(std * 1000)  # ESS fraction grows with T (flatter weights)
        if ess(np.exp(lo)) >= self.target_ess:
            return float(np.exp(lo))
        if ess(np.exp(hi)) < self.target_ess:
            log.warning("ESS fraction %.2f is out of reach: temperature %.3g", self.target_ess, np.exp(hi))
            return float(np.exp(hi))
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ess(np.exp(mid)) < self.target_ess else (lo, mid)
        return float(np.exp(hi))

    def advantage(
        self, progress: ProgressTable, fps: float, seg: Segments
    ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Returns (A float64 (N,) NaN where invalid, valid mask (N,), info dict)."""
        h = horizon_frames(self.horizon_s, fps)
        p, valid, n_nan = apply_nan_policy(progress.progress, seg, self.nan_policy)
        d, ok = increments(p, valid, seg, h, self.direction, self.rescale_partial)
        dv = d[ok]
        mean = float(dv.mean()) if dv.size else 0.0
        std = float(dv.std()) if dv.size else 0.0
        centred = (d - mean) if self.center else d
        if self.temperature == "auto":
            temp = self.auto_temperature(centred[ok], std)
        else:
            temp = resolve_temperature(self.temperature, std)
        adv = centred / temp
        info = {
            "horizon_s": h / float(fps),
            "horizon_frames": h,
            "direction": self.direction,
            "fps": float(fps),
            "increment_mean": mean,
            "increment_std": std,
            "temperature_value": temp,
            "nan_frames": n_nan,
            "invalid_frames": int((~ok).sum()),
        }
        return adv, ok, info

    def weights_from_advantage(self, adv: np.ndarray, valid: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def compute(
        self, progress: ProgressTable, fps: float, seg: Segments, episode_info: EpisodeInfo | None
    ) -> WeightResult:
        adv, ok, info = self.advantage(progress, fps, seg)
        w = np.zeros(len(adv), dtype=np.float64)
        w[ok] = self.weights_from_advantage(adv[ok], ok)
        return WeightResult(progress.index, adv, w, info)


@dataclass
class TopAWR(AdvantageScheme):
    """TOP-AWR (TOPReward Eq. 3, §5.3): w_t = clip(τ · exp(A_t), 0, δ_max). Paper-exact: τ = δ_max = 2, T = 1,
    a one-step backward increment (set ``horizon_s`` to one frame period)."""

    kind: ClassVar[str] = "top_awr"
    name: str = "top_awr"
    tau: float = 2.0
    max_weight: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tau <= 0 or self.max_weight <= 0:
            raise ValueError(f"tau and max_weight must be positive, got {self.tau}, {self.max_weight}")

    def weight_cap(self) -> float | None:
        return self.max_weight

    def weights_from_advantage(self, adv: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # TOPReward Eq. 3: w = clip(τ·exp(a), 0, δ_max); exp overflow is harmless (clipped to δ_max)
        with np.errstate(over="ignore"):
            return np.clip(self.tau * np.exp(adv), 0.0, self.max_weight)


@dataclass
class ExpAdv(AdvantageScheme):
    """Exponentiated advantage (AWR): w_t = min(exp(β · A_t), max_weight) with β = 1 (the temperature scales A)."""

    kind: ClassVar[str] = "exp_adv"
    name: str = "exp_adv"
    max_weight: float = 20.0

    def weight_cap(self) -> float | None:
        return self.max_weight

    def weights_from_advantage(self, adv: np.ndarray, valid: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.minimum(np.exp(adv), self.max_weight)


@dataclass
class FilteredBC(AdvantageScheme):
    """Filtered BC: w_t = 1[A_t > threshold] (threshold 0: keep frames that progress faster than average)."""

    kind: ClassVar[str] = "filtered"
    name: str = "filtered"
    threshold: float = 0.0

    def weights_from_advantage(self, adv: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return (adv > self.threshold).astype(np.float64)


@dataclass
class TopK(AdvantageScheme):
    """Keep the best ``fraction`` of (valid) frames by advantage: weight 1, else 0. Exactly ceil(fraction · N)
    frames are kept; ties at the cut are broken by global index (earlier first)."""

    kind: ClassVar[str] = "top_k"
    name: str = "top_k"
    fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")

    def weights_from_advantage(self, adv: np.ndarray, valid: np.ndarray) -> np.ndarray:
        k = int(np.ceil(self.fraction * len(adv)))
        order = np.argsort(-adv, kind="stable")
        w = np.zeros(len(adv))
        w[order[:k]] = 1.0
        return w


@dataclass
class Sarm(WeightingScheme):
    """SARM Eq. 8–9, per frame, exactly as lerobot 0.6.1's ``RABCWeights`` before its per-batch renormalisation:

        δ_t = p_{min(t+H, end−1)} − p_t;  μ = max(mean δ, 0), σ = max(std δ, ε) over the dataset;
        soft_t = clip((δ_t − (μ − 2σ)) / (4σ + ε), 0, 1);  w_t = 1 if δ_t > κ, soft_t if 0 ≤ δ_t ≤ κ, 0 if δ_t < 0.

    ``horizon_s`` is lerobot's ``chunk_size`` in seconds. NaN progress: lerobot silently uses w = 1; here the
    ``nan_policy`` decides (``zero`` reproduces lerobot's statistics and weights on every valid frame).
    ``temperature`` divides δ before the thresholds (1.0 = lerobot).
    """

    kind: ClassVar[str] = "sarm"
    name: str = "sarm"
    horizon_s: float | None = 0.25  # configs/weighting/sarm.yaml: 20 frames at 80 fps
    kappa: float = 0.01
    epsilon: float = 1e-6
    temperature: float | str = 1.0
    nan_policy: str = "error"

    def __post_init__(self) -> None:
        check_progress_args(self.nan_policy, self.horizon_s, self.temperature)
        if not (np.isfinite(self.kappa) and self.kappa >= 0):
            raise ValueError(f"kappa must be a finite number >= 0 (SARM Eq. 9 threshold), got {self.kappa}")
        if not (np.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a finite number > 0, got {self.epsilon}")

    def compute(
        self, progress: ProgressTable, fps: float, seg: Segments, episode_info: EpisodeInfo | None
    ) -> WeightResult:
        h = horizon_frames(self.horizon_s, fps)
        p, valid, n_nan = apply_nan_policy(progress.progress, seg, self.nan_policy)
        # like lerobot: float64 deltas for the statistics, cast to float32 for the weights
        d, ok = increments(p, valid, seg, h, "forward")
        temp = resolve_temperature(self.temperature, float(d[ok].std()) if ok.any() else 0.0)
        d = d / temp
        dv = d[ok]
        mu = max(float(np.mean(dv)), 0.0) if dv.size else 0.0
        sigma = max(float(np.std(dv)), self.epsilon) if dv.size else self.epsilon
        d32 = d.astype(np.float32)
        soft = np.clip((d32 - (mu - 2 * sigma)) / (4 * sigma + self.epsilon), 0.0, 1.0)  # SARM Eq. 8
        w = np.where(
            d32 > self.kappa, np.float32(1.0), np.where(d32 >= 0, soft, np.float32(0.0))
        )  # SARM Eq. 9
        w = np.where(ok, w, 0.0)
        info = {
            "horizon_s": h / float(fps),
            "horizon_frames": h,
            "direction": "forward",
            "fps": float(fps),
            "delta_mean": mu,
            "delta_std": sigma,
            "temperature_value": temp,
            "nan_frames": n_nan,
            "invalid_frames": int((~ok).sum()),
        }
        return WeightResult(progress.index, d32, w, info)


@dataclass
class Episode(WeightingScheme):
    """One weight per episode, broadcast to its frames.

    ``source="success"``: w = 1 for successful episodes, ``failure_weight`` otherwise (labels from
    ``EpisodeInfo``); advantage = success − success rate. ``source="clean"``: the same with the oracle quality
    filter (w = 1 for clean demos only): the clean-only upper bound of Table 4.
    ``source="final_progress"``: A_e = (f_e − mean_e f) / T with f_e the episode's last progress value,
    w = min(exp(A_e), max_weight).
    """

    kind: ClassVar[str] = "episode"
    name: str = "episode"
    source: str = "success"
    failure_weight: float = 0.0
    temperature: float | str = 1.0
    max_weight: float = 20.0
    nan_policy: str = "error"

    def weight_cap(self) -> float | None:
        return self.max_weight if self.source == "final_progress" else 1.0

    def __post_init__(self) -> None:
        if self.source not in ("success", "clean", "final_progress"):
            raise ValueError(f"source must be 'success', 'clean' or 'final_progress', got {self.source!r}")
        check_progress_args(self.nan_policy, None, self.temperature)
        if self.failure_weight < 0:
            raise ValueError(f"failure_weight must be non-negative, got {self.failure_weight}")

    def compute(
        self, progress: ProgressTable, fps: float, seg: Segments, episode_info: EpisodeInfo | None
    ) -> WeightResult:
        info: dict[str, Any] = {"fps": float(fps), "source": self.source}
        if self.source in ("success", "clean"):
            if episode_info is None:
                raise ValueError(
                    f"the 'episode' scheme with source={self.source!r} needs per-episode {self.source} labels"
                )
            good = episode_info.success_for if self.source == "success" else episode_info.clean_for
            succ = good(seg.episode).astype(np.float64)  # (E,) 1 = kept
            if succ.sum() == 0:
                raise ValueError(f"source={self.source!r}: no episode qualifies, every weight would be 0")
            adv_e = succ - succ.mean()
            w_e = np.where(succ > 0, 1.0, self.failure_weight)
            info["success_rate"] = float(succ.mean())
        else:
            p, valid, n_nan = apply_nan_policy(progress.progress, seg, self.nan_policy)
            # last valid progress value of each episode: running max of valid positions, read at episode ends
            last_valid = np.maximum.accumulate(np.where(valid, np.arange(len(p)), -1))[seg.ends - 1]
            has = last_valid >= seg.starts
            final = np.where(has, p[np.maximum(last_valid, 0)], np.nan)
            temp = resolve_temperature(self.temperature, float(np.std(final[has])) if has.any() else 0.0)
            adv_e = (final - (final[has].mean() if has.any() else 0.0)) / temp
            with np.errstate(over="ignore"):
                w_e = np.where(has, np.minimum(np.exp(np.where(has, adv_e, 0.0)), self.max_weight), 0.0)
            info.update(nan_frames=n_nan, temperature_value=temp, episodes_without_progress=int((~has).sum()))
        return WeightResult(progress.index, adv_e[seg.seg_id], w_e[seg.seg_id], info)


SCHEMES: dict[str, type[WeightingScheme]] = {
    cls.kind: cls for cls in (Uniform, TopAWR, ExpAdv, FilteredBC, TopK, Sarm, Episode)
}
