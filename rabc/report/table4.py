"""The decisive Table-4 statistics: headroom, paired Δ vs uniform BC, fraction of headroom recovered, verdicts.

Input: the long results of :func:`rabc.report.results.load_results`, whose rows carry each (eval file, task)'s
per-episode ``outcomes`` and the ``env_seeds`` they were rolled out on. A recipe (a table column: scheme × progress
source × parameters) becomes one row of an (R, S, E) outcome array — S training seeds shared by every recipe, E
evaluation episodes (tasks × env seeds) that are the same for every recipe of a seed (the paired design; checked,
not assumed). :func:`rabc.metrics.compare_to_baseline` does the statistics (hierarchical bootstrap over training
seeds, then episodes).

Upper rows: BC on successful demos only (``success_only``) and on clean demos only (``clean_only``), trained on the
same budget. Headroom = best upper row − uniform; without an interval above 0 the mix "leaves no headroom for
weighting" and the table does not rank schemes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rabc.metrics import compare_to_baseline

log = logging.getLogger(__name__)

UNIFORM = "uniform"
UPPER_SCHEMES = ("success_only", "clean_only")
NO_HEADROOM = "this mix leaves no headroom for weighting"
TABLE4_KEYS = (
    "preset",
    "tasks",
    "n_seeds",
    "test_episodes_per_task_seed",
    "val_seeds",
    "test_seeds",
    "headroom",
    "rows",
)


def paired_outcomes(sel: pd.DataFrame) -> tuple[list[str], list[int], list[str], np.ndarray]:
    """(columns, training seeds, tasks, (R, S, E) outcomes) of one split's results, paired by env seed.

    Only training seeds and tasks that every column has are kept (a warning names what is left out).

    Raises:
        ValueError: results without per-episode outcomes, or two columns of one seed rolled out on different
            env seeds (not a paired design).
    """
    if sel.empty:
        raise ValueError("no results to compare")
    if sel["outcomes"].isna().any():
        bad = sel.loc[sel["outcomes"].isna(), "eval_file"].iloc[0]
        raise ValueError(f"{bad}: no per-episode outcomes (re-run its evaluation with this version)")
    cols = list(dict.fromkeys(sel.sort_values("order")["column"]))
    per_col = {c: sel[sel["column"] == c] for c in cols}
    seeds = sorted(set.intersection(*(set(g["train_seed"]) for g in per_col.values())))
    tasks = sorted(set.intersection(*(set(g["task"]) for g in per_col.values())))
    dropped_seeds = set(sel["train_seed"]) - set(seeds)
    dropped_tasks = set(sel["task"]) - set(tasks)
    if dropped_seeds or dropped_tasks:
        log.warning(
            "not every recipe has seeds %s / tasks %s: left out of the paired comparison",
            sorted(dropped_seeds),
            sorted(dropped_tasks),
        )
    if not seeds or not tasks:
        raise ValueError("no training seed and task is shared by every recipe: nothing to pair")
    x = []
    for c in cols:
        g = per_col[c].set_index(["train_seed", "task"])
        rows = []
        for s in seeds:
            rows.append(np.concatenate([np.asarray(g.at[(s, t), "outcomes"], dtype=float) for t in tasks]))
        x.append(rows)
    ref = per_col[cols[0]].set_index(["train_seed", "task"])
    for c in cols[1:]:
        g = per_col[c].set_index(["train_seed", "task"])
        for s in seeds:
            for t in tasks:
                if list(g.at[(s, t), "env_seeds"]) != list(ref.at[(s, t), "env_seeds"]):
                    raise ValueError(
                        f"{c} and {cols[0]} were evaluated on different env seeds for training seed {s}, "
                        f"task {t}: not a paired design"
                    )
    try:
        arr = np.asarray(x, dtype=np.float64)  # (R, S, E)
    except ValueError:
        raise ValueError("recipes have different numbers of evaluation episodes per seed") from None
    return cols, seeds, tasks, arr


def table4_rows(
    sel: pd.DataFrame, *, hparams: Mapping[str, Any] | None = None, n_boot: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Headroom and one row per recipe (the ``rows`` / ``headroom`` keys of table4_<preset>.json)."""
    cols, seeds, tasks, x = paired_outcomes(sel)
    meta = sel.drop_duplicates("column").set_index("column")
    schemes = [str(meta.at[c, "scheme"]) for c in cols]
    if UNIFORM not in schemes:
        raise ValueError(f"no uniform BC row among {cols}: nothing to compare against")
    base = schemes.index(UNIFORM)
    upper = [i for i, s in enumerate(schemes) if s in UPPER_SCHEMES]
    comps, head = compare_to_baseline(x, base, upper, n_boot=n_boot, seed=seed)
    rows = []
    for c, s, comp in zip(cols, schemes, comps):
        src = str(meta.at[c, "source"])
        rows.append(
            {
                "scheme": s,
                "progress": "none" if src == "-" else src,
                **comp.to_dict(),
                "hparams": (hparams or {}).get(c, meta.at[c, "params"]),
                "column": c,
            }
        )
    up = head["upper_row"]
    headroom = {
        "upper_row": None if up is None else cols[up],
        "value": head["value"],
        "ci": head["ci"],
        "has_headroom": head["has_headroom"],
    }
    return {
        "tasks": tasks,
        "seeds": seeds,
        "episodes_per_task_seed": int(x.shape[2]) // len(tasks),
        "uniform_success": float(x[base].mean()),
        "headroom": headroom,
        "rows": rows,
    }


def headline(result: Mapping[str, Any]) -> str:
    """One sentence stating the result (the last line of the main job): the best scheme that reads progress
    (schemes weighting by episode labels only, like ``episode`` from success, are upper-row variants)."""
    h = result["headroom"]
    if h["value"] is None:
        return "No upper-bound rows (success-only / clean-only BC) were trained: headroom unknown."
    if not h["has_headroom"]:
        ci = "n/a (1 seed)" if h["ci"] is None else f"[{h['ci'][0]:+.2f}, {h['ci'][1]:+.2f}]"
        return f"Headroom {h['value']:+.2f} (95% CI {ci}): {NO_HEADROOM}, so schemes are not ranked."
    rows = [r for r in result["rows"] if r["scheme"] not in (UNIFORM, *UPPER_SCHEMES)]
    if not rows:
        return f"Headroom {h['value']:+.2f} over uniform BC, but no weighting scheme was trained."
    best = max([r for r in rows if r["progress"] != "none"] or rows, key=lambda r: r["success"])
    rec = best["headroom_recovered"]
    rec_s = "n/a" if rec is None else f"{100 * rec:.0f}%"
    d_ci = best["delta_ci"]
    return (
        f"{best['scheme']} ({best['progress']} progress) reaches {best['success']:.2f} vs uniform BC "
        f"{result['uniform_success']:.2f} (paired Δ {best['delta_vs_uniform']:+.2f}, 95% CI "
        f"[{d_ci[0]:+.2f}, {d_ci[1]:+.2f}]: {best['verdict']}), recovering {rec_s} of the "
        f"{h['value']:.2f} headroom."
    )


def _fmt_ci(ci: Sequence[float] | None, signed: bool = False) -> str:
    if ci is None:
        return "n/a (1 seed)"
    f = "{:+.2f}" if signed else "{:.2f}"
    return "[" + f.format(ci[0]) + ", " + f.format(ci[1]) + "]"


def rows_markdown(result: Mapping[str, Any]) -> str:
    """The headline table: one row per recipe with success, paired Δ, headroom recovered and verdict."""
    h = result["headroom"]
    lines = []
    if h["value"] is not None and not h["has_headroom"]:
        lines.append(
            f"**{NO_HEADROOM}** (headroom {h['value']:+.2f}, 95% CI {_fmt_ci(h['ci'], True)}): "
            "the verdicts below are not a ranking.\n"
        )
    elif h["value"] is not None:
        lines.append(
            f"Headroom: {h['upper_row']} − uniform = {h['value']:+.2f}, 95% CI {_fmt_ci(h['ci'], True)}.\n"
        )
    lines += [
        "| scheme | progress | success [95% CI] | Δ vs uniform [95% CI] | headroom recovered [95% CI] | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        rec = "–" if r["headroom_recovered"] is None else f"{100 * r['headroom_recovered']:.0f}%"
        rec_ci = (
            ""
            if r["headroom_recovered_ci"] is None
            else (
                f" [{100 * r['headroom_recovered_ci'][0]:.0f}%, {100 * r['headroom_recovered_ci'][1]:.0f}%]"
            )
        )
        lines.append(
            f"| {r['scheme']} | {r['progress']} | {r['success']:.2f} {_fmt_ci(r['ci'])} | "
            f"{r['delta_vs_uniform']:+.2f} {_fmt_ci(r['delta_ci'], True)} | {rec}{rec_ci} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def plot_rows(result: Mapping[str, Any], path: str | Path, title: str) -> None:
    """Bar per recipe (success with its hierarchical-bootstrap 95% CI); dashed lines: uniform and the upper row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rabc.io import atomic_write

    rows = result["rows"]
    labels = [f"{r['scheme'].replace('_', ' ')}\n({r['progress'].split(':')[0]})" for r in rows]
    mean = np.array([r["success"] for r in rows])
    ci = np.array([r["ci"] if r["ci"] is not None else [m, m] for r, m in zip(rows, mean)])
    from matplotlib.patches import Patch

    kinds = {  # bar colour: what the recipe's weights come from
        "tab:gray": "uniform BC",
        "tab:green": "upper rows (success / clean only)",
        "tab:purple": "episode labels",
        "tab:blue": "oracle progress",
        "tab:orange": "learned progress",
    }

    def colour(r: Mapping[str, Any]) -> str:
        if r["scheme"] == UNIFORM:
            return "tab:gray"
        if r["scheme"] in UPPER_SCHEMES:
            return "tab:green"
        return {"none": "tab:purple", "oracle": "tab:blue"}.get(r["progress"], "tab:orange")

    colors = [colour(r) for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(rows) + 1), 4.5))
    err = np.vstack([mean - ci[:, 0], ci[:, 1] - mean]).clip(min=0)  # (2, R)
    ax.bar(np.arange(len(rows)), mean, yerr=err, capsize=4, color=colors)
    line = ax.axhline(result["uniform_success"], color="tab:gray", ls="--", lw=1, label="uniform BC")
    ax.set_xticks(np.arange(len(rows)), labels, fontsize=8)
    ax.set_ylabel("success rate (test seeds)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    handles = [line, *(Patch(color=c, label=kinds[c]) for c in dict.fromkeys(colors) if c != "tab:gray")]
    ax.legend(handles=handles, fontsize=8, loc="upper left")
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
