"""Where do a weighting scheme's weights land? Per-segment weight analysis of a generated dataset, no training.

python scripts/analyze_weights.py [root=data/reproduce_medium] [progress=<parquet>] [out=runs/weight_analysis]
    [horizons=0.125,0.25,0.5,1,2] [temperatures=std/3,std,1] [schemes=top_awr_tempered,filtered]
    [directions=backward,forward]

The generator (rabc.sim.demos, rabc.data.generate) records what it did to each demo in
``<root>/meta/rabc_generation.json`` (``episodes[i].events``): detours ``[start, length]``, a failure's ``fail_at``
(its tail runs to the episode end), pauses ``[[start, length], ...]`` and the first success frame. From those, each
frame gets a segment label:

    good        frames of clean / hesitate / detour / fail demos outside any spoiled segment, before success
    post_succ   frames at or after the first success (the expert holds the goal; progress is flat at 1)
    detour      the hand moving away from the goal (detour start .. start + length)
    recovery    after a detour, until progress is back at its pre-detour value (good actions, low progress)
    fail_tail   the failure tail (stop or retreat) of a failed demo
    pause       a pause of a hesitating demo
    noise       every frame of a noisy demo (mediocre, neither good nor bad)

For each scheme × horizon × temperature × direction it reports the mean weight of each segment divided by the mean
weight of all frames (w/w̄), ROC-AUC of the weight separating good frames from bad ones (detour ∪ fail_tail ∪ pause;
1 = every bad frame weighs less than every good one, 0.5 = no separation), the Kish effective sample size fraction
(Σw)²/(N Σw²), the zero fraction, and the fraction of good frames below half the scheme's maximum weight
(good data thrown away). Writes ``weight_analysis.json`` and ``weight_analysis.md`` under ``out``.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from rabc.io import RabcFileError, atomic_write, write_json
from rabc.progress import ProgressTable, read_progress
from rabc.weighting import effective_sample_size
from rabc.weighting.table import resolve_fps

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("analyze_weights")

SEGMENTS = ("good", "post_succ", "detour", "recovery", "fail_tail", "pause", "noise")
BAD = ("detour", "fail_tail", "pause")
DEFAULTS = {
    "root": "data/reproduce_medium",
    "progress": None,
    "out": "runs/weight_analysis",
    "horizons": "0.125,0.25,0.5,1,2",
    "temperatures": "std/3,std,1",
    "schemes": "top_awr_tempered,filtered",
    "directions": "backward,forward",
}


def _mark(n: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Boolean (n,) mask of the union of row intervals [starts, stops), via a difference array."""
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, np.clip(starts, 0, n), 1)
    np.add.at(diff, np.clip(stops, 0, n), -1)
    return np.cumsum(diff[:-1]) > 0


def segment_labels(progress: ProgressTable, generation: dict[str, Any]) -> np.ndarray:
    """Segment label (one of ``SEGMENTS``) of every row of ``progress``: str array of shape (N,).

    Raises RabcFileError when the sidecar's episodes do not match the progress table.
    """
    episodes = generation.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        raise RabcFileError("rabc_generation.json: no 'episodes' list")
    ep_rows = progress.episode_index
    uniq, first = np.unique(ep_rows, return_index=True)
    lengths = np.bincount(np.searchsorted(uniq, ep_rows), minlength=len(uniq))
    row0 = dict(zip(uniq.tolist(), first.tolist()))
    n = len(progress)
    iv: dict[str, list[tuple[int, int]]] = {s: [] for s in SEGMENTS if s != "good"}
    for ep in episodes:  # one pass over episodes (E ~ 100), not rows
        e = int(ep["episode_index"])
        if e not in row0:
            raise RabcFileError(f"rabc_generation.json: episode {e} is not in the progress table")
        r0, length = row0[e], int(lengths[np.searchsorted(uniq, e)])
        if int(ep["length"]) != length:
            raise RabcFileError(f"episode {e}: sidecar length {ep['length']} != {length} progress rows")
        ev, q = ep.get("events") or {}, ep["quality_name"]
        if q == "noise":
            iv["noise"].append((r0, r0 + length))
        if ep.get("success_step") is not None:
            iv["post_succ"].append((r0 + int(ep["success_step"]), r0 + length))
        if "detour" in ev:
            t0, k = (int(x) for x in ev["detour"])
            iv["detour"].append((r0 + t0, r0 + t0 + k))
            p = progress.progress[r0 : r0 + length]
            back = np.flatnonzero(p[t0 + k :] >= p[t0])
            iv["recovery"].append(
                (r0 + t0 + k, r0 + t0 + k + (int(back[0]) if back.size else length - t0 - k))
            )
        if "fail_at" in ev:
            iv["fail_tail"].append((r0 + int(ev["fail_at"]), r0 + length))
        for s, k in ev.get("pauses", []):
            iv["pause"].append((r0 + int(s), r0 + int(s) + int(k)))
    labels = np.full(n, "good", dtype=object)
    # later entries win: a pause after success is a pause, a detour overrides the noise label it never has
    for name in ("noise", "post_succ", "recovery", "pause", "detour", "fail_tail"):
        if iv[name]:
            a = np.array(iv[name], dtype=np.int64)
            labels[_mark(n, a[:, 0], a[:, 1])] = name
    return labels.astype(str)


def summarise(weight: np.ndarray, labels: np.ndarray, max_weight: float) -> dict[str, float]:
    """Segment w/w̄, AUC(good vs bad), ESS fraction, zero fraction, good frames under half the max weight."""
    w = np.asarray(weight, dtype=np.float64)
    mean = w.mean()
    out: dict[str, float] = {}
    for s in SEGMENTS:
        m = labels == s
        out[s] = float(w[m].mean() / mean) if m.any() and mean > 0 else float("nan")
    good, bad = labels == "good", np.isin(labels, BAD)
    y = np.r_[np.ones(good.sum()), np.zeros(bad.sum())]
    out["auc"] = float(roc_auc_score(y, np.r_[w[good], w[bad]])) if good.any() and bad.any() else float("nan")
    out["ess_frac"] = effective_sample_size(w) / len(w)
    out["zero_frac"] = float((w == 0).mean())
    out["good_low_frac"] = float((w[good] < 0.5 * max_weight).mean())
    return out


def scheme_config(name: str, **overrides: Any) -> Any:
    """The scheme of ``configs/weighting/<name>.yaml`` with ``overrides`` applied."""
    cfg = OmegaConf.load(REPO / "configs" / "weighting" / f"{name}.yaml")
    return instantiate(OmegaConf.merge(cfg, overrides))


def analyse(
    progress: ProgressTable,
    labels: np.ndarray,
    fps: float,
    schemes: list[str],
    horizons: list[float],
    temperatures: list[str],
    directions: list[str],
) -> list[dict[str, Any]]:
    """One row per reference scheme (configs as they are) and per grid point of ``schemes``."""
    rows = []
    grid = [
        (s, h, t, d) for s in schemes for h, t, d in itertools.product(horizons, temperatures, directions)
    ]
    refs = ["uniform", "top_awr", "top_awr_tempered", "sarm", "filtered"]
    for item in tqdm([*refs, *grid], desc="weights", unit="setting"):
        if isinstance(item, str):
            scheme, setting = scheme_config(item), {"scheme": item, "setting": "config default"}
        else:
            s, h, t, d = item
            scheme = scheme_config(s, horizon_s=h, temperature=t, direction=d)
            setting = {"scheme": s, "horizon_s": h, "temperature": t, "direction": d}
        result = scheme(progress, fps)
        max_w = float(getattr(scheme, "max_weight", 1.0))
        rows.append({**setting, "horizon_frames": result.info.get("horizon_frames"),
                     **summarise(result.weight, labels, max_w)})  # fmt: skip
    return rows


def to_markdown(rows: list[dict[str, Any]], counts: dict[str, int], fps: float) -> str:
    cols = ["auc", "ess_frac", "zero_frac", "good_low_frac", *SEGMENTS]
    head = "| scheme | horizon | T | dir | " + " | ".join(cols) + " |"
    lines = [
        f"Frames per segment: {', '.join(f'{k} {v}' for k, v in counts.items())}; fps {fps:g}.",
        "",
        head,
        "|" + "---|" * (4 + len(cols)),
    ]
    for r in rows:
        if r.get("setting") == "config default":
            h, t, d = "config", "", ""
        else:
            h, t, d = f"{r['horizon_s']:g} s ({r['horizon_frames']} f)", str(r["temperature"]), r["direction"]
        vals = " | ".join(f"{r[c]:.2f}" for c in cols)
        lines.append(f"| {r['scheme']} | {h} | {t} | {d} | {vals} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> dict[str, str | None]:
    args = dict(DEFAULTS)
    for a in argv:
        key, sep, value = a.partition("=")
        if not sep or key not in args:
            raise SystemExit(f"unknown argument {a!r}; known keys: {sorted(args)} (key=value)")
        args[key] = value
    return args


def main(argv: list[str] | None = None) -> Path:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root = Path(str(args["root"])).resolve()
    sidecar = root / "meta" / "rabc_generation.json"
    if not sidecar.is_file():
        raise RabcFileError(f"{sidecar}: not found (is {root} a dataset made by rabc.data.generate?)")
    generation = json.loads(sidecar.read_text())
    progress_path = Path(args["progress"] or root / "progress" / "oracle.parquet")
    progress = read_progress(progress_path, expect_fingerprint=generation.get("dataset_fingerprint"))
    fps = resolve_fps(progress, generation.get("fps"))
    labels = segment_labels(progress, generation)
    split = lambda key: [v.strip() for v in str(args[key]).split(",") if v.strip()]  # noqa: E731
    temps = [float(t) if t.replace(".", "", 1).isdigit() else t for t in split("temperatures")]
    rows = analyse(
        progress,
        labels,
        fps,
        split("schemes"),
        [float(h) for h in split("horizons")],
        temps,
        split("directions"),
    )
    counts = {s: int((labels == s).sum()) for s in SEGMENTS}
    out = Path(str(args["out"]))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "weight_analysis.json", {"progress": str(progress_path), "fps": fps, "frames": counts,
                                               "rows": rows})  # fmt: skip
    with atomic_write(out / "weight_analysis.md", "w") as f:
        f.write(to_markdown(rows, counts, fps))
    print(f"weight analysis: {out / 'weight_analysis.md'}")
    return out


if __name__ == "__main__":
    main()
