"""Success-rate tables in the layout of the paper's Table 4: rows = tasks + mean, columns = training recipes.

A cell is the success rate averaged over training seeds with a 95 % Student-t interval across seeds
(rabc.metrics.mean_t_ci); with a single seed it is the Wilson interval of that run's successes / episodes.
The "mean" row averages tasks within each seed first (the paper's mean over tasks), then across seeds.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from rabc.metrics import mean_t_ci, wilson_interval

log = logging.getLogger(__name__)

MEAN_ROW = "mean"
UNIFORM = "uniform"

#: TOPReward Table 4 (SO-100 arm, π0, 50 noisy demos per task, 10 trials, partial success out of 10).
PAPER_TABLE4 = {
    "BC": [2.0, 1.0, 5.67, 7.0, 7.0, 6.0],
    "TOP-AWR": [3.0, 2.33, 6.33, 10.0, 10.0, 9.0],
}
PAPER_TABLE4_MEAN = {"BC": 4.78, "TOP-AWR": 6.78}


def cell_stat(rates: np.ndarray, successes: int, episodes: int) -> dict[str, Any]:
    """Mean and 95 % CI of per-seed success rates.

    Args:
        rates: (S,) success rate of each training seed.
        successes, episodes: totals over those seeds (used for the Wilson interval when S == 1).
    Returns:
        dict with mean, lo, hi, n_seeds, method ("t" or "wilson"), episodes.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if len(rates) >= 2:
        m, hw = mean_t_ci(rates)
        lo, hi, method = m - hw, m + hw, "t"
    else:
        m, lo, hi = wilson_interval(int(successes), int(episodes))
        method = "wilson"
    _, plo, phi = wilson_interval(int(successes), int(episodes))
    return {
        "mean": float(m),
        "lo": float(max(lo, 0.0)),  # rates live in [0, 1]; the t half-width is kept unclipped
        "hi": float(min(hi, 1.0)),
        "half_width": float((hi - lo) / 2),
        "pooled_wilson": [plo, phi],  # episodes of all seeds pooled: the binomial part of the uncertainty
        "n_seeds": len(rates),
        "method": method,
        "episodes": int(episodes),
    }


def format_cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "–"
    if c["method"] == "t":
        return f"{c['mean']:.2f} ± {c['half_width']:.2f}"
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
            table.at[task, col] = cell_stat(g["rate"].to_numpy(), g["successes"].sum(), g["episodes"].sum())
        per_seed = seed_means(sub)
        tot = sub[sub["train_seed"].isin(per_seed.index)]
        table.at[MEAN_ROW, col] = cell_stat(
            per_seed.to_numpy(), tot["successes"].sum(), tot["episodes"].sum()
        )
    return table


def paired_difference(a: pd.Series, b: pd.Series) -> dict[str, Any] | None:
    """Mean ± 95 % t-interval of a − b over the training seeds both have (paired by seed); None if none shared."""
    shared = a.index.intersection(b.index)
    if len(shared) == 0:
        return None
    d = (a[shared] - b[shared]).to_numpy()
    m, hw = mean_t_ci(d)
    return {"mean": m, "half_width": hw, "n_seeds": len(d)}


def comparisons(df: pd.DataFrame, split: str = "test", heldout: bool = False) -> dict[str, dict[str, Any]]:
    """Per column: ``vs_uniform`` (paired Δ of the mean row against uniform BC) and, for learned-progress columns,
    ``vs_oracle`` (Δ against the same scheme and parameters with oracle progress)."""
    sel = df[(df["split"] == split) & (df["heldout"] == heldout)]
    means = {col: seed_means(g) for col, g in sel.groupby("column")}
    meta = sel.drop_duplicates("column").set_index("column")
    uniform = [c for c in means if meta.at[c, "scheme"] == UNIFORM]
    out: dict[str, dict[str, Any]] = {}
    for col, m in means.items():
        row: dict[str, Any] = {}
        if uniform and col not in uniform:
            row["vs_uniform"] = paired_difference(m, means[uniform[0]])
        if str(meta.at[col, "source"]).startswith("learned"):
            twin = meta[
                (meta["scheme"] == meta.at[col, "scheme"])
                & (meta["params"] == meta.at[col, "params"])
                & (meta["source"] == "oracle")
            ].index
            if len(twin):
                row["vs_oracle"] = paired_difference(m, means[twin[0]])
        out[col] = row
    return out


def _fmt_diff(d: dict[str, Any] | None) -> str:
    if not d:
        return "–"
    hw = "" if np.isnan(d["half_width"]) else f" ± {d['half_width']:.2f}"
    return f"{d['mean']:+.2f}{hw} (n={d['n_seeds']})"


def verdict(d: dict[str, Any] | None) -> str:
    """Reading of a paired Δ: better / worse when its 95 % CI excludes 0, else no detectable difference."""
    if not d:
        return "–"
    if d["n_seeds"] < 2 or np.isnan(d["half_width"]):
        return "too few seeds"
    if d["mean"] - d["half_width"] > 0:
        return "better"
    if d["mean"] + d["half_width"] < 0:
        return "worse"
    return "no detectable difference"


def to_markdown(table: pd.DataFrame, comp: dict[str, dict[str, Any]] | None = None) -> str:
    """Markdown of :func:`build_table`, plus the paired Δ rows of :func:`comparisons` when given."""
    if table.empty:
        return "_no results_\n"
    cols = list(table.columns)
    lines = ["| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for task in table.index:
        name = f"**{task}**" if task == MEAN_ROW else task
        lines.append(f"| {name} | " + " | ".join(format_cell(table.at[task, c]) for c in cols) + " |")
    if comp:
        for key, label in (("vs_uniform", "Δ mean vs uniform BC"), ("vs_oracle", "Δ mean learned − oracle")):
            if any(comp.get(c, {}).get(key) for c in cols):
                lines.append(
                    f"| _{label}_ | " + " | ".join(_fmt_diff(comp.get(c, {}).get(key)) for c in cols) + " |"
                )
    if comp and any(comp.get(c, {}).get("vs_uniform") for c in cols):
        lines.append(
            "| _verdict vs uniform BC_ | "
            + " | ".join(verdict(comp.get(c, {}).get("vs_uniform")) for c in cols)
            + " |"
        )
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
    """Per recipe: mean over its runs of ESS fraction, zero fraction, CV, and the mean weight of each demo
    quality relative to the overall mean weight (1 = average frame)."""
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
