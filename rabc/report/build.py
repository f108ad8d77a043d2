"""Write the Table 4 analogue from a set of eval JSONs: markdown, PNG bar chart with CIs, JSON of every cell."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rabc.io import atomic_write, write_json
from rabc.report.results import find_eval_files, load_diagnostics, load_results
from rabc.report.table4 import TABLE4_KEYS, headline, plot_rows, rows_markdown, table4_rows
from rabc.report.tables import (
    MEAN_ROW,
    build_table,
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


def check_provenance(df: pd.DataFrame, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Every result must come from one dataset (and the expected preset / dataset when ``expect`` names them).

    Raises:
        ValueError: naming the mismatching field and a file that has it.
    """
    found: dict[str, Any] = {}
    for field in ("dataset_fingerprint", "preset"):
        values = df[field].dropna().unique().tolist()
        if len(values) > 1:
            raise ValueError(
                f"results mix several values of {field}: {values} — tabulate one experiment at a time"
            )
        found[field] = values[0] if values else None
        want = (expect or {}).get(field)
        if want is not None and found[field] is not None and found[field] != want:
            bad = df.loc[df[field] != want, "eval_file"].iloc[0]
            raise ValueError(f"{bad}: {field} is {found[field]!r}, expected {want!r}")
    return found


def selection_notes(selection: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Notes and per-recipe ``hparams`` from a reproduce run's ``selection.json`` ({"scheme/source": {grid,
    val_mean_success, chosen, tune_seeds}}): what the validation seeds chose, for the tables."""
    notes = []
    for key, sel in selection.items():
        seeds = f" with training seeds {sel['tune_seeds']}" if sel.get("tune_seeds") else ""
        scores = ", ".join(f"{p} {s:.2f}" for p, s in zip(sel["grid"], sel["val_mean_success"]))
        notes.append(f"{key}: chose {sel['chosen']} on validation env seeds{seeds} (mean success: {scores}).")
    return notes, {key.replace("/", " / ", 1): sel["chosen"] for key, sel in selection.items()}


def make_report(
    runs: str | Path | Sequence[str | Path],
    out: str | Path,
    notes: Sequence[str] = (),
    *,
    preset: str | None = None,
    expect: dict[str, Any] | None = None,
    hparams: dict[str, Any] | None = None,
    join_presets: Sequence[str] = (),
) -> dict[str, Any]:
    """Tabulate every ``eval_*.json`` under ``runs`` into ``out``.

    Writes ``table4_<preset>.json`` (the headline statistics: headroom, one row per recipe with success, paired Δ
    vs uniform BC, headroom recovered, verdict; plus the per-task cells), ``table4_<preset>.md`` (headline rows,
    per-task cells, held-out tasks as a zero-shot section, the validation record, weight diagnostics, the paper's
    numbers) and ``table4_<preset>.png`` (bars with hierarchical-bootstrap 95 % CIs). ``expect`` ({preset,
    dataset_fingerprint}) refuses results of another experiment. ``join_presets`` lets runs recorded under those
    presets join ``preset``'s table (runs reused across presets of one dataset; the dataset must still match and
    a note says so). Returns the JSON dict.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = find_eval_files(runs)
    if not files:
        raise FileNotFoundError(f"{runs}: no eval_*.json files found")
    df = load_results(files)
    if join_presets:
        if not preset:
            raise ValueError("join_presets needs the table's own preset named (preset=...)")
        joined = sorted(set(df.loc[df["preset"].isin(list(join_presets)), "preset"]))
        if joined:
            df.loc[df["preset"].isin(joined), "preset"] = preset
            notes = [
                *notes,
                f"Runs recorded under preset(s) {', '.join(joined)} (same dataset) joined this table.",
            ]
    prov = check_provenance(df, expect)
    preset = preset or prov["preset"] or "custom"
    val_seeds, test_seeds = (_env_seeds(df, split) for split in ("val", "test"))
    diags = load_diagnostics(df["run_dir"].unique())
    test, held = build_table(df, "test"), build_table(df, "test", heldout=True)
    val = build_table(df, "val")
    diag = diagnostics_table(df, diags, "test")
    sel = df[(df["split"] == "test") & ~df["heldout"]]
    main = table4_rows(sel, hparams=hparams)
    sel_h = df[(df["split"] == "test") & df["heldout"]]
    zero_shot = table4_rows(sel_h, hparams=hparams) if not sel_h.empty else None
    result = {
        "preset": preset,
        "tasks": main["tasks"],
        "n_seeds": len(main["seeds"]),
        "test_episodes_per_task_seed": main["episodes_per_task_seed"],
        "val_seeds": val_seeds,
        "test_seeds": test_seeds,
        "headroom": main["headroom"],
        "rows": main["rows"],
        "uniform_success": main["uniform_success"],
        "training_seeds": main["seeds"],
        "dataset_fingerprint": prov["dataset_fingerprint"],
        "headline": headline(main),
        "heldout_zero_shot": zero_shot,
        "per_task": {"test": _cells_json(test), "heldout": _cells_json(held), "val": _cells_json(val)},
        "notes": list(notes),
        "eval_files": [str(f) for f in files],
        "diagnostics": {
            k: {c: v if isinstance(v, str) else float(v) for c, v in row.items()}
            for k, row in diag.iterrows()
        },
    }
    assert all(k in result for k in TABLE4_KEYS)
    n_eps = result["test_episodes_per_task_seed"]
    md = [f"# Simulated analogue of TOPReward Table 4 — preset `{preset}`\n"]
    md += [f"> {n}\n" for n in notes]
    md.append(
        f"**{result['headline']}**\n\n"
        f"Tasks {', '.join(result['tasks'])}; {result['n_seeds']} training seeds {result['training_seeds']}; "
        f"{n_eps} test episodes per task and seed, the same env seeds for every recipe (paired). Test env seeds "
        f"(reported): {_seed_range(test_seeds)}; validation env seeds (tuning only): {_seed_range(val_seeds)}. "
        "Intervals: hierarchical bootstrap (training seeds, then episodes; 95 %); `n/a (1 seed)` where a single "
        "training seed allows no seed-level interval. A verdict says better / worse only when the paired Δ "
        "interval excludes 0.\n"
    )
    md += ["## Headline (training tasks, test seeds)\n", rows_markdown(main)]
    md += [
        "## Per task (all seeds' episodes pooled; Wilson 95 % interval of the binomial part only)\n",
        to_markdown(test),
    ]
    if zero_shot is not None:
        md += [
            "## Held-out tasks — zero-shot (never in the training data)\n",
            "The policy gets no task identity (state-only ACT; no language input), so a held-out task is solved "
            "only where its scene and motion resemble a training task's. This probes generalisation, not weighting.\n",
            rows_markdown(zero_shot),
            to_markdown(held),
        ]
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
    with atomic_write(out / f"table4_{preset}.md", "w") as fh:
        fh.write("\n".join(md))
    plot_rows(main, out / f"table4_{preset}.png", f"Table 4 ({preset}): training tasks, test seeds, 95% CI")
    if not test.empty:
        plot_table(test, out / f"table4_{preset}_tasks.png", "Per task, test seeds (Wilson 95% CI)")
    if not held.empty:
        plot_table(held, out / f"table4_{preset}_heldout.png", "Held-out tasks (zero-shot), test seeds")
    write_json(out / f"table4_{preset}.json", result)
    log.info("wrote %s", out / f"table4_{preset}.md")
    return result


def _env_seeds(df: pd.DataFrame, split: str) -> list[int]:
    seeds = df.loc[df["split"] == split, "env_seeds"].dropna()
    return sorted({int(s) for lst in seeds for s in lst})


def _seed_range(seeds: Sequence[int]) -> str:
    """Seeds as contiguous runs, e.g. ``20000000–20000029, 20100000–20100029 (60)``."""
    if not seeds:
        return "–"
    s = sorted({int(x) for x in seeds})
    breaks = [i + 1 for i in range(len(s) - 1) if s[i + 1] != s[i] + 1]
    runs = [s[a:b] for a, b in zip([0, *breaks], [*breaks, len(s)])]
    text = ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"{text} ({len(s)})"
