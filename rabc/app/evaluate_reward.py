"""Reward evaluation: the TOPReward paper's metrics (Tables 1, 2, 3, 5) for reward scorers on LeRobot datasets.

Per scorer × dataset × episode: the K anchor scores → VOC (PAPER.md §2), the success score (mean raw log p over
the last 3 prefixes) → ROC-AUC against the dataset's success labels, and the static-frame bias (VOC on the first
frame repeated, frame-based scorers only). GVL parse failures are excluded from its means and counted. Writes
``tables.md``, ``results.json``, ``episodes.csv``, ``progress_curves_<dataset>.png`` and ``voc_distribution.png``.
With the tiny random VLM the TOPReward / GVL numbers mean nothing; oracle and random are the references.
Command: ``python scripts/evaluate_reward.py`` (configs/evaluate_reward.yaml).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from rabc.data import dataset_info, read_episode_frames
from rabc.data.oracle import read_oracle_progress
from rabc.io import RabcFileError, atomic_write, write_json
from rabc.metrics import (
    bootstrap_aggregate_ci,
    bootstrap_ci,
    static_frame_voc,
    success_auc,
    success_score,
    voc,
)

log = logging.getLogger(__name__)

KNOWN = ("topreward", "topreward_chat", "gvl", "oracle", "random")
#: PAPER.md §5 (Qwen3-VL-8B-Instruct): Table 1 OXE mean VOC, Table 2 mean over the 4 success splits, Table 3 AUC.
PAPER = {
    1: {"topreward": 0.857, "gvl": 0.194},
    2: {"topreward": 0.947, "gvl": float(np.mean([0.332, 0.242, 0.164, 0.544]))},
    3: {"topreward": 0.654, "gvl": 0.519},
    5: {"topreward": 0.945, "topreward_chat": 0.500},
}
PAPER_MODEL = "Qwen3-VL-8B"


@dataclass(frozen=True)
class EvaluateRewardResult:
    """What :func:`run` wrote: ``results`` is the content of ``results.json`` (tables 1, 2, 3, 5 figures, static-frame
    VOC, GVL parse failures, adapter hash, plots, config)."""

    tables: Path
    results_json: Path
    episodes_csv: Path
    plots: list[Path]
    results: dict[str, Any]


def build_scorers(cfg: DictConfig) -> tuple[dict[str, Any], list[str]]:
    """{name: scorer or factory(root)} for the requested names, and notes on those skipped."""
    scorers: dict[str, Any] = {}
    notes: list[str] = []
    for name in cfg.scorers:
        if name not in KNOWN:
            raise ValueError(f"unknown scorer {name!r}; choose from {KNOWN}")
        if name.startswith("topreward"):
            from rabc.reward import TopRewardScorer

            scorers[name] = TopRewardScorer(
                str(cfg.model), num_anchors=cfg.num_anchors, chat_template=name == "topreward_chat",
                prefix_cache=cfg.prefix_cache, dtype=cfg.dtype, device=cfg.device,
                adapter=cfg.adapter, merge_adapter=cfg.merge_adapter,
            )  # fmt: skip
        elif name == "gvl":
            from rabc.reward.gvl import GvlScorer

            scorers[name] = GvlScorer(str(cfg.model), dtype=cfg.dtype, device=cfg.device, **cfg.gvl)
        else:
            from rabc.reward import baselines

            scorers[name] = (
                baselines.OracleScorer
                if name == "oracle"
                else baselines.RandomScorer(seed=cfg.random_seed, num_anchors=cfg.num_anchors)
            )
    return scorers, notes


def score_one(scorer: Any, frames: np.ndarray, fps: float, task: str, ep: int, cfg) -> dict[str, Any]:
    """One episode under one scorer: voc, success score, static-frame VOC, parse flag, progress curve.

    A :class:`~rabc.reward.base.Scorer` is ranked on :meth:`EpisodeScore.anchor_signal`; its static-frame VOC is
    measured when it looks at frames (``needs_frames``). GVL returns values at shuffled frames instead."""
    from rabc.reward.gvl import GvlScorer

    n = len(frames)
    rec: dict[str, Any] = {"voc": np.nan, "success_score": np.nan, "static_voc": np.nan, "parse_ok": True}
    if isinstance(scorer, GvlScorer):
        r = scorer.score_episode(frames, fps=fps, instruction=task, episode_index=ep)
        rec.update(parse_ok=r.parse_ok, curve_x=r.frame_indices, curve_y=r.values / 100.0)
        if r.parse_ok:  # failures: VOC 0 by the paper's rule, excluded from every mean (counted instead)
            rec.update(voc=r.voc, success_score=success_score(r.values))
        if cfg.static_check:
            s = scorer.score_episode(
                np.broadcast_to(frames[:1], frames.shape), instruction=task, episode_index=ep
            )
            # the one static-frame VOC (rabc.metrics.static_frame_voc): NaN for a constant curve, not GVL's 0
            rec["static_voc"] = voc(s.values) if s.parse_ok else np.nan
        return rec
    es = scorer.score_episode(frames, fps=fps, instruction=task, episode_index=ep)
    anchors, raw = es.anchor_signal(cfg.num_anchors)
    curve = es.progress_anchors if len(anchors) == len(es.progress_anchors) else raw
    rec.update(curve_x=anchors, curve_y=curve, voc=voc(raw), success_score=success_score(raw))
    if cfg.static_check and scorer.needs_frames:
        rec["static_voc"] = static_frame_voc(
            lambda v: scorer.score_episode(np.ascontiguousarray(v), fps=fps, instruction=task).logp_true,
            frames[0], n,
        )  # fmt: skip
    return rec


def evaluate(cfg: DictConfig, scorers: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """Per-episode records (one row per dataset × scorer × episode) and oracle curves for the plots."""
    rows, oracle_curves = [], {}
    for root in (Path(str(r)) for r in cfg.datasets):
        info = dataset_info(root)
        table, fps = info.episodes, info.fps
        if cfg.max_episodes is not None:
            table = table.head(int(cfg.max_episodes))
        per_root = {k: (v(root) if isinstance(v, type) else v) for k, v in scorers.items()}
        try:  # the reference curve of the plots, where the dataset has oracle progress
            oracle = read_oracle_progress(root)
        except RabcFileError:
            oracle = None
        for _, ep in tqdm(table.iterrows(), total=len(table), desc=f"episodes {root.name}", unit="ep"):
            e = int(ep["episode_index"])
            frames, _ = read_episode_frames(root, e, camera=cfg.camera)
            success = ep["success"]
            if oracle is not None:
                oracle_curves[(root.name, e)] = oracle.progress[oracle.episode_index == e]
            for name, sc in per_root.items():
                rec = score_one(sc, frames, fps, str(ep["task"]), e, cfg)
                rows.append({"dataset": root.name, "scorer": name, "episode_index": e, "task": ep["task"],
                             "success": None if pd.isna(success) else bool(success),
                             "quality": ep.get("quality_name", ""), "length": len(frames), **rec})  # fmt: skip
    return pd.DataFrame(rows), oracle_curves


def _fmt(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _ci(v, n_boot: int) -> str:
    v = np.asarray(v, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    m, lo, hi = bootstrap_ci(v, n_boot=n_boot)
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def _voc_table(df: pd.DataFrame, cfg, title: str, paper: dict, note: str) -> tuple[list[str], dict]:
    datasets = list(dict.fromkeys(df["dataset"]))
    lines = [f"## {title}", "", note, "",
             "| scorer | " + " | ".join(datasets) + f" | mean over datasets [95% CI] | paper ({PAPER_MODEL}) |",
             "|---" * (len(datasets) + 3) + "|"]  # fmt: skip
    out = {}
    for name, g in df.groupby("scorer", sort=False):
        per = {d: g.loc[g["dataset"] == d, "voc"].to_numpy(np.float64) for d in datasets}
        cells = [_fmt(np.nanmean(v)) if np.isfinite(v).any() else "n/a" for v in per.values()]
        try:
            m, lo, hi = bootstrap_aggregate_ci(per, n_boot=cfg.n_boot)
            agg = f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
        except ValueError:
            m, agg = float("nan"), "n/a"
        out[name] = m
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {agg} | {_fmt(paper.get(name, np.nan))} |")
    return lines + [""], out


def write_tables(df: pd.DataFrame, cfg, notes: list[str], out: Path) -> dict:
    """tables.md in the layout of the paper's Tables 1, 2, 3, 5 plus static-frame bias and GVL parse failures."""
    match = PAPER_MODEL.lower() in str(cfg.model).lower()
    setting = f"model `{cfg.model}`: " + ("same backbone as the paper" if match else
                                          "not the paper's backbone, its numbers are for reference only")  # fmt: skip
    if cfg.adapter:
        setting += f"; TOPReward scorers with the LoRA adapter `{cfg.adapter}`"
    lines = ["# Reward evaluation", "", setting, "", *[f"- note: {n}" for n in notes], ""]
    results: dict[str, Any] = {"model": str(cfg.model), "paper_backbone": match, "adapter": cfg.adapter}
    if cfg.adapter:
        from rabc.reward.lora import adapter_hash

        results["adapter_sha256"] = adapter_hash(cfg.adapter)
    t1, results["table1_voc"] = _voc_table(
        df,
        cfg,
        "Table 1: VOC, all episodes",
        PAPER[1],
        "Mean VOC per dataset; paper: Open X-Embodiment, 39 × 20.",
    )
    succ = df[df["success"] == True]  # noqa: E712  (None where unlabelled)
    t2, results["table2_voc_success"] = (
        _voc_table(succ, cfg, "Table 2: VOC, successful episodes", PAPER[2],
                   "Paper: ManiRewardBench, 4 splits (Lerobot / Franka / Bimanual YAM / Single-arm YAM): "
                   "TOPReward 0.954 / 0.942 / 0.947 / 0.945, GVL 0.332 / 0.242 / 0.164 / 0.544; the column is their mean.")
        if len(succ) else (["## Table 2", "", "no success labels", ""], {})
    )  # fmt: skip
    t3 = ["## Table 3: success detection ROC-AUC", "", "Score: mean raw log p over the last 3 prefixes.", "",
          f"| scorer | episodes | AUC [95% CI] | paper ({PAPER_MODEL}) |", "|---|---|---|---|"]  # fmt: skip
    results["table3_auc"] = {}
    for name, g in df[df["success"].notna()].groupby("scorer", sort=False):
        g = g[np.isfinite(g["success_score"].to_numpy(np.float64))]
        s, y = g["success_score"].to_numpy(np.float64), g["success"].to_numpy(bool)
        if len(g) == 0:
            results["table3_auc"][name] = float("nan")
            t3.append(f"| {name} | 0 | n/a (no scored episodes) | {_fmt(PAPER[3].get(name, np.nan))} |")
            continue
        try:
            auc, lo, hi = bootstrap_ci((s, y), success_auc, n_boot=min(cfg.n_boot, 500))
            cell = f"{auc:.3f} [{lo:.3f}, {hi:.3f}]"
        except ValueError as err:
            auc, cell = float("nan"), f"n/a ({err})"
        results["table3_auc"][name] = auc
        t3.append(f"| {name} | {len(g)} | {cell} | {_fmt(PAPER[3].get(name, np.nan))} |")
    t5 = ["", "## Table 5: chat template off vs on (successful episodes)", "",
          f"| prompt | mean VOC | paper ({PAPER_MODEL}) |", "|---|---|---|"]  # fmt: skip
    src = results.get("table2_voc_success") or results["table1_voc"]
    for name, label in (("topreward", "default (no chat template)"), ("topreward_chat", "chat template")):
        if name in src:
            t5.append(f"| {label} | {_fmt(src[name])} | {_fmt(PAPER[5][name])} |")
    bias = ["", "## Static-frame bias (first frame repeated; unbiased ≈ 0, Qwen3-VL-8B ≈ 0.99)", "",
            "| scorer | mean static VOC [95% CI] | mean VOC [95% CI] |", "|---|---|---|"]  # fmt: skip
    gvl = [
        "",
        "## GVL parse failures (excluded from every mean)",
        "",
        "| dataset | failed | episodes |",
        "|---|---|---|",
    ]
    results["static_voc"], results["gvl_parse_failures"] = {}, {}
    for name, g in df.groupby("scorer", sort=False):
        if np.isfinite(g["static_voc"].to_numpy(np.float64)).any():
            results["static_voc"][name] = float(np.nanmean(g["static_voc"]))
            bias.append(f"| {name} | {_ci(g['static_voc'], cfg.n_boot)} | {_ci(g['voc'], cfg.n_boot)} |")
    for d, g in df[df["scorer"] == "gvl"].groupby("dataset", sort=False):
        failed = int((~g["parse_ok"].astype(bool)).sum())
        results["gvl_parse_failures"][d] = {"failed": failed, "episodes": len(g)}
        gvl.append(f"| {d} | {failed} | {len(g)} |")
    with atomic_write(out / "tables.md", "w") as f:
        f.write("\n".join(lines + t1 + t2 + t3 + t5 + bias + gvl) + "\n")
    return results


def write_plots(df: pd.DataFrame, oracle_curves: dict, cfg, out: Path) -> list[Path]:
    """Progress curves of sample episodes vs oracle progress, one PNG per dataset; VOC distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for d, g in df.groupby("dataset", sort=False):
        eps = list(dict.fromkeys(g["episode_index"]))[: int(cfg.sample_episodes)]
        fig, axes = plt.subplots(1, len(eps), figsize=(3.2 * len(eps), 3), squeeze=False)
        for ax, e in zip(axes[0], eps, strict=True):
            ge = g[g["episode_index"] == e]
            if (d, e) in oracle_curves:
                ax.plot(oracle_curves[(d, e)], color="k", lw=2, label="oracle progress")
            for _, r in ge[ge["scorer"] != "oracle"].iterrows():
                if isinstance(r.get("curve_x"), np.ndarray) and np.isfinite(r["curve_y"]).any():
                    ax.plot(r["curve_x"], r["curve_y"], marker=".", label=r["scorer"])
            ax.set(title=f"ep {e} ({ge['quality'].iloc[0]})", xlabel="frame", ylim=(-0.05, 1.05))
        axes[0, 0].set_ylabel("progress")
        axes[0, -1].legend(fontsize=7)
        fig.tight_layout()
        paths.append(_save(fig, out / f"progress_curves_{d}.png"))
        plt.close(fig)
    names = list(dict.fromkeys(df["scorer"]))
    data = [df.loc[df["scorer"] == n, "voc"].dropna().to_numpy() for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.5))
    ax.boxplot([v if len(v) else [np.nan] for v in data], tick_labels=names)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(ylabel="VOC per episode", title="VOC distribution")
    fig.tight_layout()
    paths.append(_save(fig, out / "voc_distribution.png"))
    plt.close(fig)
    return paths


def _save(fig, path: Path) -> Path:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)
    return path


def run(cfg: DictConfig) -> EvaluateRewardResult:
    """Score every episode of ``cfg.datasets`` with every scorer of ``cfg.scorers`` and write the tables, plots,
    per-episode CSV and results JSON under ``cfg.out`` (options: configs/evaluate_reward/options.yaml)."""
    out = Path(str(cfg.out))
    out.mkdir(parents=True, exist_ok=True)
    scorers, notes = build_scorers(cfg)
    df, oracle_curves = evaluate(cfg, scorers)
    results = write_tables(df, cfg, notes, out)
    plots = write_plots(df, oracle_curves, cfg, out)
    results["plots"] = [str(p) for p in plots]
    results["config"] = OmegaConf.to_container(cfg, resolve=True)
    with atomic_write(out / "episodes.csv", "w") as f:
        df.drop(columns=["curve_x", "curve_y"], errors="ignore").to_csv(f, index=False)
    write_json(out / "results.json", results)
    log.info("wrote %s", out / "tables.md")
    return EvaluateRewardResult(out / "tables.md", out / "results.json", out / "episodes.csv", plots, results)
