"""Collect evaluation results: ``eval_<split>.json`` files (rabc.lit.evaluate) + their runs' ``run.json``.

One row per (eval file, task) in a long pandas table; a *column* of the paper-style table is one training recipe
(weighting scheme × progress source × scheme parameters), its repetitions are training seeds.
Pure pandas/json: nothing here imports torch or Lightning.
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rabc.io import RabcFileError
from rabc.progress import is_oracle_progress

log = logging.getLogger(__name__)

#: Column order of the paper's comparison (uniform BC first); other schemes follow alphabetically.
SCHEME_ORDER = ("uniform", "success_only", "clean_only", "top_awr", "top_awr_tempered", "sarm", "filtered")
#: Weighting keys that do not change the weights (left out of a recipe's identity).
_NON_PARAM_KEYS = {"_target_", "name", "nan_policy"}
#: Scheme whose weights do not depend on the progress source.
PROGRESS_FREE = {"uniform", "success_only", "clean_only"}

ROW_COLUMNS = [
    "eval_file",
    "run_dir",
    "split",
    "scheme",
    "source",
    "params",
    "train_seed",
    "task",
    "heldout",
    "episodes",
    "successes",
    "rate",
    "outcomes",
    "env_seeds",
    "dataset_fingerprint",
    "preset",
]


def find_eval_files(runs: str | Path | Sequence[str | Path]) -> list[Path]:
    """Every ``eval_*.json`` under the given directories / glob patterns / files (sorted, de-duplicated)."""
    items = [runs] if isinstance(runs, str | Path) else list(runs)
    found: set[Path] = set()
    for item in items:
        path = Path(item)
        if path.is_file():
            found.add(path.resolve())
            continue
        matches = [Path(m) for m in glob.glob(str(item), recursive=True)] if not path.is_dir() else [path]
        if not matches:
            raise FileNotFoundError(f"{item}: no such directory, file or glob match")
        for m in matches:
            if m.is_dir():
                found.update(p.resolve() for p in m.rglob("eval_*.json"))
            elif m.name.startswith("eval_") and m.suffix == ".json":
                found.add(m.resolve())
    return sorted(found)


def reads_progress(scheme: str, weighting: Mapping[str, Any] | None = None) -> bool:
    """Whether a recipe's weights depend on progress: not uniform / success-only / clean-only BC, nor a scheme
    whose ``source`` is an episode label (the ``episode`` scheme's default, ``source: success``)."""
    return scheme not in PROGRESS_FREE and (weighting or {}).get("source") not in ("success", "clean")


def source_label(
    progress: str | None, dataset_root: str | None, scheme: str, weighting: Mapping[str, Any] | None = None
) -> str:
    """``oracle`` for the dataset's own oracle progress, ``learned:<file stem>`` for any other progress parquet,
    ``-`` for recipes that ignore progress (uniform BC, episode weights from success labels)."""
    if not reads_progress(scheme, weighting):
        return "-"
    if not progress:
        return "precomputed"
    if is_oracle_progress(progress, dataset_root):
        return "oracle"
    return f"learned:{Path(progress).stem}"


def params_label(weighting: dict[str, Any] | None) -> str:
    """The scheme's parameters as ``k=v,...`` (sorted keys), the recipe's identity beside its name."""
    if not weighting:
        return ""
    return ",".join(f"{k}={weighting[k]}" for k in sorted(weighting) if k not in _NON_PARAM_KEYS)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RabcFileError(f"{path}: cannot read JSON ({e})") from e
    if not isinstance(data, dict):
        raise RabcFileError(f"{path}: expected a JSON object")
    return data


def _run_json(eval_file: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The run.json beside the eval file (or beside the checkpoint it names); {} when there is none."""
    candidates = [eval_file.parent / "run.json"]
    if report.get("checkpoint"):
        ck = Path(report["checkpoint"])
        candidates += [ck / "run.json", ck.parent / "run.json"]
    for c in candidates:
        if c.is_file():
            return _read_json(c)
    return {}


def load_results(files: Iterable[str | Path]) -> pd.DataFrame:
    """Long table (one row per eval file × task) with :data:`ROW_COLUMNS`.

    Raises:
        RabcFileError: an eval file lacks ``seed_split`` / ``tasks`` or a task lacks ``episodes`` / ``successes``.
    """
    rows = []
    for f in map(Path, files):
        rep = _read_json(f)
        for key in ("seed_split", "tasks"):
            if key not in rep:
                raise RabcFileError(f"{f}: missing key {key!r} (not an eval.json of rabc.lit.evaluate?)")
        run = _run_json(f, rep)
        weighting = (run.get("config") or {}).get("weighting") or {}
        scheme = rep.get("weighting") or weighting.get("name") or "unknown"
        source = source_label(
            rep.get("progress") or run.get("progress"), run.get("dataset_root"), scheme, weighting
        )
        seed = rep.get("train_seed", run.get("seed"))
        common = {
            "eval_file": str(f),
            "run_dir": str(f.parent),
            "split": rep["seed_split"],
            "scheme": scheme,
            "source": source,
            "params": params_label(weighting),
            "train_seed": -1 if seed is None else int(seed),
        }
        for heldout, key in ((False, "tasks"), (True, "heldout_tasks")):
            for task, res in (rep.get(key) or {}).items():
                if "episodes" not in res or "successes" not in res:
                    raise RabcFileError(f"{f}: {key}.{task} lacks 'episodes'/'successes'")
                n, k = int(res["episodes"]), int(res["successes"])
                if n <= 0 or not 0 <= k <= n:
                    raise RabcFileError(f"{f}: {key}.{task} has {k} successes of {n} episodes")
                outcomes = res.get("outcomes")
                if outcomes is not None and (len(outcomes) != n or sum(outcomes) != k):
                    raise RabcFileError(f"{f}: {key}.{task} outcomes disagree with {k}/{n} successes")
                rows.append(
                    {
                        **common,
                        "task": task,
                        "heldout": heldout,
                        "episodes": n,
                        "successes": k,
                        "outcomes": outcomes,
                        "env_seeds": res.get("env_seeds", rep.get("seeds")),
                        "dataset_fingerprint": run.get("dataset_fingerprint"),
                        "preset": (run.get("config") or {}).get("preset"),
                    }
                )
    df = pd.DataFrame(rows, columns=[c for c in ROW_COLUMNS if c != "rate"])
    df["rate"] = df["successes"] / df["episodes"].where(df["episodes"] > 0)
    df = _label_columns(df)
    dup = df.duplicated(["split", "column", "train_seed", "task", "heldout"], keep=False)
    if dup.any():
        clash = df.loc[dup, ["column", "train_seed", "task", "eval_file"]].head(6).to_string(index=False)
        raise ValueError(
            f"the same recipe, seed and task was evaluated more than once on one split:\n{clash}"
        )
    log.info("loaded %d eval files, %d task results", df["eval_file"].nunique(), len(df))
    return df


def _label_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``column`` (display label) and ``order`` (sort key): ``scheme / source``, plus the parameters when one
    scheme × source appears with several parameter settings on the same split (e.g. a tuning grid)."""
    df = df.copy()
    base = df["scheme"] + " / " + df["source"]
    base = base.where(df["source"] != "-", df["scheme"])
    df["column"] = base
    for _, g in df.groupby(["split", "scheme", "source"]):
        variants = {p: dict(kv.split("=", 1) for kv in p.split(",") if kv) for p in g["params"].unique()}
        if len(variants) < 2:
            continue
        keys = sorted({k for v in variants.values() for k in v})
        differ = [k for k in keys if len({v.get(k) for v in variants.values()}) > 1]
        short = {p: ",".join(f"{k}={v.get(k)}" for k in differ) for p, v in variants.items()}
        df.loc[g.index, "column"] = base[g.index] + " [" + g["params"].map(short) + "]"
    rank = {s: i for i, s in enumerate(SCHEME_ORDER)}
    src_rank = df["source"].map(lambda s: 0 if s in ("-", "oracle") else 1)
    df["order"] = list(
        zip(df["scheme"].map(lambda s: rank.get(s, len(rank))), df["scheme"], src_rank, df["column"])
    )
    return df


def load_diagnostics(run_dirs: Iterable[str | Path]) -> dict[str, dict[str, Any]]:
    """``weights_diagnostics.json`` of each run dir that has one, keyed by run dir (str)."""
    out = {}
    for d in map(Path, run_dirs):
        f = d / "weights_diagnostics.json"
        if f.is_file():
            out[str(d)] = _read_json(f)
    return out
