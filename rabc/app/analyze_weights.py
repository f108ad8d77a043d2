"""``analyze_weights``: where do a weighting scheme's weights land? Per-segment weight analysis of a generated
dataset, no training. The segment labels and the per-segment statistics are :mod:`rabc.weighting.separation`'s
(the separation report training writes).

For each scheme × horizon × temperature × direction it reports the mean weight of each segment divided by the mean
weight of all frames (w/w̄), ROC-AUC of the weight separating good frames from bad ones (detour ∪ fail_tail ∪ spoiled ∪ pause;
1 = every bad frame weighs less than every good one, 0.5 = no separation), the Kish effective sample size fraction
(Σw)²/(N Σw²), the zero fraction, and the fraction of good frames below half the scheme's maximum weight
(good data thrown away). Writes ``weight_analysis.json`` and ``weight_analysis.md`` under ``out``.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from rabc.app.cli import CONFIGS
from rabc.data.oracle import oracle_progress_path
from rabc.io import RabcFileError, atomic_write, write_json
from rabc.progress import ProgressTable, read_progress
from rabc.weighting.separation import SEGMENTS, segment_labels, separation_report
from rabc.weighting.table import resolve_fps

log = logging.getLogger("analyze_weights")


@dataclass(frozen=True)
class AnalysisResult:
    out: Path  # weight_analysis.json / .md
    rows: list[dict[str, Any]]
    frames: dict[str, int]  # frames per segment


def summarise(weight: np.ndarray, segments: np.ndarray, max_weight: float) -> dict[str, float]:
    """Segment w/w̄, AUC(good vs bad), ESS fraction, zero fraction, good frames under half the max weight."""
    rep = separation_report(weight, segments, max_weight=max_weight)
    return {
        **rep["by_segment"],
        "auc": rep["auc"],
        "ess_frac": rep["ess_fraction"],
        "zero_frac": rep["zero_fraction"],
        "good_low_frac": rep["good_low_fraction"],
    }


def scheme_config(name: str, **overrides: Any) -> Any:
    """The scheme of ``configs/weighting/<name>.yaml`` with ``overrides`` applied."""
    cfg = OmegaConf.load(CONFIGS / "weighting" / f"{name}.yaml")
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
        max_w = scheme.weight_cap() or 1.0
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


def run(cfg: DictConfig) -> AnalysisResult:
    root = Path(str(cfg.root)).resolve()
    sidecar = root / "meta" / "rabc_generation.json"
    if not sidecar.is_file():
        raise RabcFileError(f"{sidecar}: not found (is {root} a dataset made by rabc.data.generate?)")
    generation = json.loads(sidecar.read_text())
    progress_path = Path(cfg.progress or oracle_progress_path(root))
    progress = read_progress(progress_path, expect_fingerprint=generation.get("dataset_fingerprint"))
    fps = resolve_fps(progress, generation.get("fps"))
    labels, _ = segment_labels(progress.episode_index, progress.progress, generation.get("episodes") or [])
    rows = analyse(
        progress,
        labels,
        fps,
        [str(s) for s in cfg.schemes],
        [float(h) for h in cfg.horizons],
        list(cfg.temperatures),
        [str(d) for d in cfg.directions],
    )
    counts = {s: int((labels == s).sum()) for s in SEGMENTS}
    out = Path(str(cfg.out))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "weight_analysis.json", {"progress": str(progress_path), "fps": fps, "frames": counts,
                                               "rows": rows})  # fmt: skip
    with atomic_write(out / "weight_analysis.md", "w") as f:
        f.write(to_markdown(rows, counts, fps))
    return AnalysisResult(out, rows, counts)
