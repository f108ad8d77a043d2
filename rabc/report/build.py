"""Write the Table 4 analogue from a set of eval JSONs: markdown, PNG bar chart with CIs, JSON of every cell."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rabc.io import atomic_write, write_json
from rabc.report.results import find_eval_files, load_diagnostics, load_results
from rabc.report.tables import (
    MEAN_ROW,
    build_table,
    comparisons,
    diagnostics_table,
    frame_to_markdown,
    paper_table4_markdown,
    to_markdown,
)

log = logging.getLogger(__name__)


def plot_table(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """Grouped bars: x = tasks + mean, one bar per recipe, error bars = the cell's 95 % CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = list(table.index), list(table.columns)
    x = np.arange(len(rows))
    width = 0.8 / max(len(cols), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) + 0.3 * len(rows) * len(cols)), 4.5))
    for j, col in enumerate(cols):
        cells = [table.at[r, col] if isinstance(table.at[r, col], dict) else None for r in rows]
        mean = np.array([c["mean"] if c else np.nan for c in cells])
        lo = np.array([c["lo"] if c else np.nan for c in cells])
        hi = np.array([c["hi"] if c else np.nan for c in cells])
        err = np.vstack([np.clip(mean - lo, 0, None), np.clip(hi - mean, 0, None)])  # (2, R) below / above
        ax.bar(x + (j - (len(cols) - 1) / 2) * width, mean, width, yerr=err, capsize=2, label=col)
    ax.set_xticks(x, [f"{r}" if r != MEAN_ROW else "MEAN" for r in rows], rotation=20, ha="right")
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def _cells_json(table: pd.DataFrame) -> dict[str, Any]:
    return {
        c: {r: table.at[r, c] for r in table.index if isinstance(table.at[r, c], dict)} for c in table.columns
    }


def make_report(
    runs: str | Path | Sequence[str | Path], out: str | Path, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """Tabulate every ``eval_*.json`` under ``runs`` into ``out``:

    ``table4.md`` (test seeds, training tasks; held-out tasks; validation-seed tuning record; weight diagnostics;
    the paper's numbers for reference), ``table4.png`` and ``table4_heldout.png`` (bars with 95 % CIs), and
    ``table4.json`` (every cell). ``notes`` are printed under the title (e.g. skipped progress sources).
    Returns the JSON dict.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = find_eval_files(runs)
    if not files:
        raise FileNotFoundError(f"{runs}: no eval_*.json files found")
    df = load_results(files)
    diags = load_diagnostics(df["run_dir"].unique())
    test, held = build_table(df, "test"), build_table(df, "test", heldout=True)
    val = build_table(df, "val")
    comp, comp_held = comparisons(df, "test"), comparisons(df, "test", heldout=True)
    diag = diagnostics_table(df, diags, "test")
    n_eps = sorted(df.loc[df["split"] == "test", "episodes"].unique().tolist())

    md = ["# Simulated analogue of TOPReward Table 4\n"]
    md += [f"> {n}\n" for n in notes]
    md.append(
        "Success rate on **test seeds** (disjoint from demo and validation seeds), Meta-World, "
        f"{n_eps} episodes per task and training seed. Cell = mean over training seeds ± 95 % Student-t "
        "half-width (seed-to-seed spread only: `± 0.00` means every seed gave the same rate; table4.json also holds "
        "the Wilson interval of all seeds' episodes pooled); `rate [lo, hi]` = Wilson 95 % interval when a recipe "
        "has a single seed. "
        "Δ rows: paired by training seed on the mean row.\n"
    )
    md += ["## Training tasks (test seeds)\n", to_markdown(test, comp)]
    md += ["## Held-out tasks (never trained on; generalisation probe)\n", to_markdown(held, comp_held)]
    if not val.empty:
        md += ["## Validation seeds (used only to choose temperatures / horizons)\n", to_markdown(val)]
    md += [
        "## Weight diagnostics (test-table recipes; mean over their runs)\n",
        frame_to_markdown(diag),
        "`w/w̄ q` = mean weight of frames of demo quality q divided by the mean weight of all frames.\n",
        "## Paper's Table 4, for reference only\n",
        "Different setting: a real SO-100 arm, a π0 policy, 50 noisy demos per task, 10 trials with partial "
        "credit out of 10, VLM (Qwen3-VL) progress. Not comparable number for number with the simulated table.\n",
        paper_table4_markdown(),
    ]
    with atomic_write(out / "table4.md", "w") as fh:
        fh.write("\n".join(md))
    if not test.empty:
        plot_table(test, out / "table4.png", "Training tasks, test seeds (95% CI)")
    if not held.empty:
        plot_table(held, out / "table4_heldout.png", "Held-out tasks, test seeds (95% CI)")
    result = {
        "eval_files": [str(f) for f in files],
        "notes": list(notes),
        "test": _cells_json(test),
        "heldout": _cells_json(held),
        "val": _cells_json(val),
        "comparisons": comp,
        "comparisons_heldout": comp_held,
        "diagnostics": {
            k: {c: v if isinstance(v, str) else float(v) for c, v in row.items()}
            for k, row in diag.iterrows()
        },
    }
    write_json(out / "table4.json", result)
    log.info("wrote %s", out / "table4.md")
    return result
