"""Do the weights separate good frames from bad ones? Checked before any training.

The generator (rabc.sim.demos, rabc.data.generate) records what it did to each demo in
``<root>/meta/rabc_generation.json`` (``episodes[i].events``): detours ``[start, length]``, a failure's ``fail_at``
(its tail runs to the episode end), pauses ``[[start, length], ...]``, a wrong-target or push-away stretch
``spoiled [start, length]`` and the first success frame. From those each frame gets a segment label:

    good        frames outside any spoiled segment, before success
    post_succ   frames at or after the first success (the expert holds the goal; progress is flat at 1)
    detour      the hand moving away from the goal (detour start .. start + length)
    recovery    after a detour, until progress is back at its pre-detour value (good actions, low progress)
    fail_tail   the failure tail (give-up: stop or retreat) of a failed demo
    spoiled     a wrong-target or push-away stretch (then the demo ends)
    pause       a pause of a hesitating demo
    noise       every frame of a noisy demo (mediocre, neither good nor bad)

Bad frames = detour ∪ fail_tail ∪ spoiled ∪ pause. The report: mean weight per segment and per demo class relative
to the mean weight (w/w̄), ROC-AUC of the weight for good vs bad frames (1 = every bad frame weighs less than every
good one; 0.5 = no separation), Kish ESS fraction, the fraction of total weight on bad frames and the ratio of the
bad frames' mean weight to the clean demos' frames'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from rabc.io import RabcFileError
from rabc.weighting.diagnostics import effective_sample_size, phase_coverage

SEGMENTS = ("good", "post_succ", "detour", "recovery", "fail_tail", "spoiled", "pause", "noise")
BAD = ("detour", "fail_tail", "spoiled", "pause")


def _mark(n: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Boolean (n,) mask of the union of row intervals [starts, stops), via a difference array."""
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, np.clip(starts, 0, n), 1)
    np.add.at(diff, np.clip(stops, 0, n), -1)
    return np.cumsum(diff[:-1]) > 0


def segment_labels(
    episode_index: np.ndarray, progress: np.ndarray, episodes: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Segment label and demo class of every frame.

    Args:
        episode_index: (N,) episode of each frame, frames of an episode contiguous and in order.
        progress: (N,) oracle progress (for the end of a detour's recovery).
        episodes: the generation sidecar's ``episodes`` list (episode_index, length, quality_name, events, ...).
    Returns:
        (segments, classes): (N,) str arrays; a segment of :data:`SEGMENTS`, the demo class (quality name).
    Raises:
        RabcFileError: the sidecar's episodes do not match the frames.
    """
    if not episodes:
        raise RabcFileError("rabc_generation.json: no 'episodes' list")
    uniq, first = np.unique(episode_index, return_index=True)
    lengths = np.bincount(np.searchsorted(uniq, episode_index), minlength=len(uniq))
    row0 = dict(zip(uniq.tolist(), first.tolist()))
    n = len(episode_index)
    iv: dict[str, list[tuple[int, int]]] = {s: [] for s in SEGMENTS if s != "good"}
    classes = np.full(n, "", dtype=object)
    for ep in episodes:  # one pass over episodes (E ~ 100), not frames
        e = int(ep["episode_index"])
        if e not in row0:
            raise RabcFileError(f"rabc_generation.json: episode {e} is not among the frames")
        r0, length = row0[e], int(lengths[np.searchsorted(uniq, e)])
        if int(ep["length"]) != length:
            raise RabcFileError(f"episode {e}: sidecar length {ep['length']} != {length} frames")
        ev, q = ep.get("events") or {}, ep["quality_name"]
        classes[r0 : r0 + length] = q
        if q == "noise":
            iv["noise"].append((r0, r0 + length))
        if ep.get("success_step") is not None:
            iv["post_succ"].append((r0 + int(ep["success_step"]), r0 + length))
        if "detour" in ev:
            t0, k = (int(x) for x in ev["detour"])
            iv["detour"].append((r0 + t0, r0 + t0 + k))
            p = progress[r0 : r0 + length]
            back = np.flatnonzero(p[t0 + k :] >= p[t0])
            iv["recovery"].append(
                (r0 + t0 + k, r0 + t0 + k + (int(back[0]) if back.size else length - t0 - k))
            )
        if "spoiled" in ev:
            iv["spoiled"].append((r0 + int(ev["spoiled"][0]), r0 + length))
        elif "fail_at" in ev:
            iv["fail_tail"].append((r0 + int(ev["fail_at"]), r0 + length))
        for s, k in ev.get("pauses", []):
            iv["pause"].append((r0 + int(s), r0 + int(s) + int(k)))
    labels = np.full(n, "good", dtype=object)
    # later entries win: a pause after success is a pause, a detour overrides the noise label it never has
    for name in ("noise", "post_succ", "recovery", "pause", "detour", "fail_tail", "spoiled"):
        if iv[name]:
            a = np.array(iv[name], dtype=np.int64)
            labels[_mark(n, a[:, 0], a[:, 1])] = name
    return labels.astype(str), classes.astype(str)


def separation_report(
    weight: np.ndarray,
    segments: np.ndarray,
    classes: np.ndarray | None = None,
    max_weight: float | None = None,
    phases: np.ndarray | None = None,
) -> dict[str, Any]:
    """How well ``weight`` (N,) separates good frames from bad ones (see the module docstring).

    ``phases`` (N,) str, optional: each frame's task and tenth of its episode (e.g. ``"push-v3 3/10"``). With it the
    report adds **phase coverage**: the smallest mean weight of the good frames of clean demos in any (task, tenth)
    over their overall mean weight, and that phase. A scheme can separate well (high AUC) and still starve a phase
    every clean demo goes through (a stretch where progress is flat, such as hooking a drawer handle): the policy
    then never learns that phase. 1 = every phase keeps its share; near 0 = a phase is practically dropped.

    Returns:
        dict: auc, ess_fraction, zero_fraction, bad_weight_fraction (Σw on bad / Σw), bad_over_clean (mean weight of
        bad frames / mean weight of clean demos' frames; NaN without clean demos), good_low_fraction (good frames
        below half of ``max_weight``), by_segment and by_class (w/w̄), frames per segment; phase_coverage and
        weakest_phase with ``phases``.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != segments.shape:
        raise ValueError(f"{w.shape} weights for {segments.shape} frame labels")
    mean = w.mean()
    rel = lambda m: float(w[m].mean() / mean) if m.any() and mean > 0 else float("nan")  # noqa: E731
    good, bad = segments == "good", np.isin(segments, BAD)
    y = np.r_[np.ones(good.sum()), np.zeros(bad.sum())]
    auc = float(roc_auc_score(y, np.r_[w[good], w[bad]])) if good.any() and bad.any() else float("nan")
    clean = classes == "clean" if classes is not None else np.zeros(len(w), bool)
    out: dict[str, Any] = {
        "auc": auc,
        "ess_fraction": effective_sample_size(w) / len(w),
        "zero_fraction": float((w == 0).mean()),
        "bad_weight_fraction": float(w[bad].sum() / w.sum()) if w.sum() > 0 else float("nan"),
        "bad_over_clean": float(w[bad].mean() / w[clean].mean())
        if bad.any() and clean.any() and w[clean].mean() > 0
        else float("nan"),
        "by_segment": {s: rel(segments == s) for s in SEGMENTS},
        "frames": {s: int((segments == s).sum()) for s in SEGMENTS},
    }
    if max_weight is not None:
        out["good_low_fraction"] = float((w[good] < 0.5 * max_weight).mean()) if good.any() else float("nan")
    if classes is not None:
        out["by_class"] = {str(c): rel(classes == c) for c in np.unique(classes)}
    if phases is not None and clean.any():
        keep = clean & good
        coverage = phase_coverage(w[keep], np.asarray(phases)[keep])
        if coverage is not None:
            out["phase_coverage"], out["weakest_phase"] = coverage
    return out


def format_separation(rep: Mapping[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [
        f"separation: good-vs-bad frame AUC {rep['auc']:.3f}, ESS fraction {rep['ess_fraction']:.3f}, "
        f"weight on bad frames {rep['bad_weight_fraction']:.1%}, bad/clean mean weight {rep['bad_over_clean']:.2f}"
    ]
    if "phase_coverage" in rep:
        lines.append(
            f"  phase coverage {rep['phase_coverage']:.2f} (weakest phase of clean demos: {rep['weakest_phase']})"
        )
    if "by_class" in rep:
        lines.append("  w/w̄ by demo class: " + ", ".join(f"{k} {v:.2f}" for k, v in rep["by_class"].items()))
    lines.append(
        "  w/w̄ by segment: "
        + ", ".join(f"{k} {v:.2f}" for k, v in rep["by_segment"].items() if rep["frames"][k])
    )
    return "\n".join(lines)
