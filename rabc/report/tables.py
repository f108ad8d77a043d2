"""Success-rate tables in the layout of the paper's Table 4: rows = tasks + mean, columns = training recipes.

A cell is the success rate of all its episodes (every training seed pooled) with the 95 % Wilson interval of
``scipy.stats.binomtest``: always inside [0, 1]. Comparisons between recipes (paired Δ, headroom, verdicts) live in
:mod:`rabc.report.table4`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from rabc.metrics import binomial_ci

log = logging.getLogger(__name__)

MEAN_ROW = "mean"
UNIFORM = "uniform"

#: TOPReward Table 4 (SO-100 arm, π0, 50 noisy demos per task, 10 trials, partial success out of 10).
PAPER_TABLE4 = {
    "BC": [2.0, 1.0, 5.67, 7.0, 7.0, 6.0],
    "TOP-AWR": [3.0, 2.33, 6.33, 10.0, 10.0, 9.0],
}
PAPER_TABLE4_MEAN = {"BC": 4.78, "TOP-AWR": 6.78}


def cell_stat(successes: int, episodes: int, n_seeds: int) -> dict[str, Any]:
    """Success rate of a cell with its 95 % binomial (Wilson, scipy) interval over all its episodes pooled.

    The interval is the binomial part of the uncertainty only (seed-to-seed spread is in the hierarchical
    bootstrap of :mod:`rabc.report.table4`); it always lies inside [0, 1].
    """
    m, lo, hi = binomial_ci(int(successes), int(episodes))
    return {
        "mean": m,
        "lo": lo,
        "hi": hi,
        "n_seeds": int(n_seeds),
        "method": "wilson",
        "episodes": int(episodes),
    }


def format_cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "–"
    return f"{c['mean']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}]"


def _columns_in_order(df: pd.DataFrame) -> list[str]:
    first = df.drop_duplicates("column")
    return [c for _, c in sorted(zip(first["order"], first["column"]))]


def seed_means(sub: pd.DataFrame) -> pd.Series:
    """Per training seed, the mean success rate over the tasks evaluated for every seed of ``sub`` (one column)."""
    counts = sub.groupby("task")["train_seed"].nunique()
    common = counts.index[counts == sub["train_seed"].nunique()]
    if len(common) < len(counts):
        log.warning(
            "%s: tasks %s lack some seeds; left out of the mean",
            sub["column"].iloc[0],
            sorted(set(counts.index) - set(common)),
        )
    return sub[sub["task"].isin(common)].groupby("train_seed")["rate"].mean()


def build_table(df: pd.DataFrame, split: str = "test", heldout: bool = False) -> pd.DataFrame:
    """Cells (dicts of :func:`cell_stat`) indexed by task + ``mean``, one column per recipe, paper order.

    Args:
        df: long results of :func:`rabc.report.results.load_results`.
        split: evaluation seed split ("test" for reporting, "val" for the tuning record).
        heldout: the held-out-task results instead of the training tasks.
    """
    sel = df[(df["split"] == split) & (df["heldout"] == heldout)]
    if sel.empty:
        return pd.DataFrame()
    cols = _columns_in_order(sel)
    tasks = sorted(sel["task"].unique())
    table = pd.DataFrame(index=[*tasks, MEAN_ROW], columns=cols, dtype=object)
    for col in cols:
        sub = sel[sel["column"] == col]
        for task, g in sub.groupby("task"):
            table.at[task, col] = cell_stat(
                g["successes"].sum(), g["episodes"].sum(), g["train_seed"].nunique()
            )
        per_seed = seed_means(sub)
        tot = sub[sub["train_seed"].isin(per_seed.index)]
        table.at[MEAN_ROW, col] = cell_stat(tot["successes"].sum(), tot["episodes"].sum(), len(per_seed))
    return table


def to_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`build_table`."""
    if table.empty:
        return "_no results_\n"
    cols = list(table.columns)
    lines = ["| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for task in table.index:
        name = f"**{task}**" if task == MEAN_ROW else task
        lines.append(f"| {name} | " + " | ".join(format_cell(table.at[task, c]) for c in cols) + " |")
    seeds = [table.at[MEAN_ROW, c]["n_seeds"] if isinstance(table.at[MEAN_ROW, c], dict) else 0 for c in cols]
    lines.append("| _training seeds_ | " + " | ".join(str(s) for s in seeds) + " |")
    return "\n".join(lines) + "\n"


def paper_table4_markdown() -> str:
    """The paper's Table 4 numbers (different setting: real robot, π0), for reference only."""
    lines = [
        "| paper task | BC (/10) | TOP-AWR (/10) |",
        "|---|---|---|",
        *(f"| task {i + 1} | {b:g} | {t:g} |" for i, (b, t) in enumerate(zip(*PAPER_TABLE4.values()))),
        f"| **mean** | {PAPER_TABLE4_MEAN['BC']:g} | {PAPER_TABLE4_MEAN['TOP-AWR']:g} |",
    ]
    return "\n".join(lines) + "\n"


def diagnostics_table(
    df: pd.DataFrame, diags: dict[str, dict[str, Any]], split: str = "test"
) -> pd.DataFrame:
    """Per recipe: mean over its runs of ESS fraction, zero fraction, CV, the separation report (good-vs-bad frame
    AUC, bad frames' mean weight / clean demos', fraction of Σw on bad frames; where the runs have one) and the
    mean weight of each demo quality relative to the overall mean weight (1 = average frame)."""
    sel = df[df["split"] == split].drop_duplicates("run_dir")
    rows = {}
    for col in _columns_in_order(sel):
        ds = [diags[d] for d in sel.loc[sel["column"] == col, "run_dir"] if d in diags]
        if not ds:
            continue
        row = {
            "runs": len(ds),
            "ESS fraction": np.mean([d["ess_fraction"] for d in ds]),
            "zero fraction": np.mean([d["zero_fraction"] for d in ds]),
            "CV": np.mean([d["cv"] for d in ds]),
        }
        seps = [d["separation"] for d in ds if d.get("separation")]
        if seps:  # rabc.weighting.separation: good-vs-bad frame AUC, bad frames' weight vs clean demos'
            row["good-vs-bad AUC"] = np.mean([s["auc"] for s in seps])
            row["bad/clean weight"] = np.mean([s["bad_over_clean"] for s in seps])
            row["weight on bad"] = np.mean([s["bad_weight_fraction"] for s in seps])
        for d in ds:
            for q, g in (d.get("by_quality") or {}).items():
                row.setdefault(f"w/w̄ {q}", []).append(
                    g["mean_weight"] / d["mean"] if d["mean"] > 0 else np.nan
                )
        rows[col] = {k: (np.mean(v) if isinstance(v, list) else v) for k, v in row.items()}
        rows[col]["warnings"] = "; ".join(
            sorted({w.split(":")[0] for d in ds for w in d.get("warnings", [])})
        )
    return pd.DataFrame.from_dict(rows, orient="index")


def frame_to_markdown(frame: pd.DataFrame, index_name: str = "recipe") -> str:
    if frame.empty:
        return "_no weight diagnostics found_\n"
    cols = list(frame.columns)
    lines = [f"| {index_name} | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for idx, row in frame.iterrows():
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append(f"| {idx} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
