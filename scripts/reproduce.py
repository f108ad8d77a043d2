"""Reproduce the paper's tables in one command.

python scripts/reproduce.py table=4 size=smoke|full [key=value ...]   # simulated analogue of Table 4
python scripts/reproduce.py table=1,2,3,5 model=… datasets=[…] out=…  # → scripts/evaluate_reward.py

table=4: dataset (generated if missing) → for each weighting scheme × progress source (oracle; a learned scorer's
parquet when ``learned_progress`` is given) × training seed: train (rabc.lit.run.train on the composed
configs/train.yaml), tune each scheme's grid (configs/reproduce/<size>.yaml ``grid``) on **validation seeds**,
evaluate the chosen setting on separate **test seeds**, then tabulate (rabc.report.make_report). Resumable: a run
with an exported policy is not retrained, an existing eval JSON is not recomputed. Other ``key=value`` arguments
override configs/reproduce/<size>.yaml (e.g. ``seeds=[0,1,2]``, ``learned_progress=path/to/progress.parquet``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rabc.report.results import PROGRESS_FREE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
REWARD_SCRIPT = REPO / "scripts" / "evaluate_reward.py"
log = logging.getLogger("reproduce")


def parse_argv(argv: list[str]) -> tuple[list[int], str, list[str]]:
    """``table=…`` (comma list), ``size=…`` and the remaining overrides."""
    tables, size, rest = None, "smoke", []
    for a in argv:
        key, _, value = a.partition("=")
        if key == "table":
            try:
                tables = [int(t) for t in value.strip("[]").split(",") if t]
            except ValueError:
                raise SystemExit(f"table must be a comma list of 1-5, got {value!r}") from None
        elif key == "size":
            size = value
        else:
            rest.append(a)
    if not tables or any(t not in (1, 2, 3, 4, 5) for t in tables):
        raise SystemExit(
            "usage: python scripts/reproduce.py table=4 size=smoke|full [overrides]  (or table=1,2,3,5)"
        )
    return tables, size, rest


def grid_points(grid: dict[str, list[Any]] | None) -> list[dict[str, Any]]:
    """Cartesian product of ``{key: [values]}`` in config order; [{}] without a grid."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]


def point_tag(point: dict[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9.=_,-]", "_", ",".join(f"{k}={v}" for k, v in point.items()))


def ensure_dataset(cfg: DictConfig) -> Path:
    from rabc.data.generate import GenerateConfig, generate_dataset

    root = Path(cfg.dataset.root).resolve()
    if (root / "meta" / "info.json").is_file():
        log.info("dataset %s exists: reused", root)
        return root
    log.info("generating dataset %s", root)
    kwargs = OmegaConf.to_container(cfg.dataset, resolve=True)
    kwargs["root"] = str(root)
    generate_dataset(GenerateConfig(**kwargs), show_progress=True)
    return root


def progress_sources(cfg: DictConfig, root: Path) -> tuple[dict[str, Path], list[str]]:
    """{label: progress parquet} and notes about skipped sources."""
    sources, notes = {"oracle": root / "progress" / "oracle.parquet"}, []
    learned = cfg.get("learned_progress")
    if not learned:
        notes.append("No learned scorer progress given (learned_progress=null): oracle progress only.")
    elif not Path(learned).is_file():
        notes.append(f"Learned scorer progress {learned} not found: learned-progress columns skipped.")
    else:
        sources["learned"] = Path(learned).resolve()
    for n in notes:
        log.warning(n)
    return sources, notes


class Sweep:
    """Train / evaluate bookkeeping for one Table 4 sweep."""

    def __init__(self, cfg: DictConfig, root: Path, out: Path, bar: tqdm):
        self.cfg, self.root, self.out, self.bar = cfg, root, out, bar
        self.base = [*cfg.train_overrides, f"dataset.root={root}", f"preset={cfg.get('preset') or 'custom'}"]

    def run_dir(self, scheme: str, source: str, point: dict[str, Any], seed: int) -> Path:
        tag = f"{scheme}-{source}" + (f"-{point_tag(point)}" if point else "")
        return self.out / "runs" / tag / f"seed{seed}"

    def overrides(self, scheme: str, progress: Path, point: dict[str, Any], seed: int) -> list[str]:
        out = [*self.base, f"weighting={scheme}", f"progress={progress}", f"seed={seed}"]
        return out + [f"weighting.{k}={v}" for k, v in point.items()]

    def check(
        self, recipes: list[tuple[str, str, Path, list[dict[str, Any]]]], notes: list[str]
    ) -> list[tuple[str, str, Path, list[dict[str, Any]]]]:
        """Compose every run's config and compute its weights before anything trains: a typo in a grid key or
        value fails in seconds, not after hours of earlier runs; a grid point whose weights collapse (ESS
        fraction below ``min_ess_fraction``) is reported and dropped, a recipe left without points skipped."""
        from hydra.utils import instantiate

        from rabc.data import episode_table
        from rabc.lit.run import episode_info
        from rabc.weighting import compute_weights, effective_sample_size

        info = episode_info(episode_table(self.root))
        kept = []
        for scheme, label, path, points in recipes:
            ok = []
            for point in points:
                cfg = compose("train", overrides=self.overrides(scheme, path, point, 0))
                result, _ = compute_weights(
                    path, instantiate(OmegaConf.to_container(cfg.weighting, resolve=True)), episode_info=info
                )
                ess = effective_sample_size(result.weight) / len(result.weight)
                floor = float(self.cfg.get("min_ess_fraction", 0.05))
                if ess < floor:
                    msg = f"{scheme}/{label} {point or ''}: weights collapse (ESS fraction {ess:.3f} < {floor}): skipped"
                    log.warning(msg)
                    notes.append(msg)
                else:
                    ok.append(point)
            if ok:
                kept.append((scheme, label, path, ok))
        return kept

    def train(self, scheme: str, progress: Path, point: dict[str, Any], seed: int, run_dir: Path) -> None:
        from rabc.lit.run import train

        self.bar.set_postfix_str(f"train {run_dir.parent.name} seed {seed}")
        if (run_dir / "policy" / "config.json").is_file() and (run_dir / "train_result.json").is_file():
            log.info("skip training (done): %s", run_dir)
        else:
            overrides = self.overrides(scheme, progress, point, seed)
            log.info("train %s", " ".join(overrides[len(self.base) :]))
            train(compose("train", overrides=overrides), run_dir)
        self.bar.update(1)

    def evaluate(self, run_dir: Path, split: str) -> dict[str, Any]:
        from rabc.lit.evaluate import evaluate

        self.bar.set_postfix_str(f"eval {split} {run_dir.parent.name} {run_dir.name}")
        path = run_dir / f"eval_{split}.json"
        if path.is_file():
            log.info("skip evaluation (done): %s", path)
            report = json.loads(path.read_text())
        else:
            ev = self.cfg.eval
            report = evaluate(
                run_dir,
                episodes=int(ev[f"{split}_episodes"]),
                seed_split=split,
                batch_size=int(ev.batch_size),
                max_steps=ev.max_steps,
                heldout_tasks=[] if split == "val" else None,  # held-out tasks are reported, never tuned on
                out=path,
            )
        self.bar.update(1)
        return report


def make_recipes(
    cfg: DictConfig, sources: dict[str, Path]
) -> list[tuple[str, str, Path, list[dict[str, Any]]]]:
    """(scheme, progress label, progress parquet, grid points) for every column of the table."""
    grids = OmegaConf.to_container(cfg.grid, resolve=True) if cfg.grid else {}
    unknown = set(grids) - set(cfg.schemes)
    if unknown:
        raise ValueError(f"grid names schemes not in `schemes`: {sorted(unknown)}")
    recipes = []  # (scheme, source label, progress path, grid points)
    for scheme in cfg.schemes:
        for label, path in sources.items():
            if scheme in PROGRESS_FREE and label != "oracle":
                continue  # uniform / success-only / clean-only BC ignore progress: trained once
            recipes.append(
                (scheme, "none" if scheme in PROGRESS_FREE else label, path, grid_points(grids.get(scheme)))
            )
    return recipes


def run_table4(cfg: DictConfig) -> Path:
    out = Path(cfg.out).resolve()
    root = ensure_dataset(cfg)
    sources, notes = progress_sources(cfg, root)
    seeds = [int(s) for s in cfg.seeds]
    recipes = make_recipes(cfg, sources)
    n_tuning = sum(len(p) for *_, p in recipes if len(p) > 1)
    total = (n_tuning * 2 + 2 * len(recipes)) * len(seeds)  # upper bound: train + eval steps
    bar = tqdm(total=total, desc="table 4", unit="step")
    sweep = Sweep(cfg, root, out, bar)
    recipes = sweep.check(recipes, notes)
    selection = {}
    for scheme, label, path, points in recipes:
        best = points[0]
        if len(points) > 1:  # tune on validation seeds only
            scores = []
            for point in points:
                rates = []
                for seed in seeds:
                    rd = sweep.run_dir(scheme, label, point, seed)
                    sweep.train(scheme, path, point, seed, rd)
                    rates.append(sweep.evaluate(rd, "val")["overall"]["rate"])
                scores.append(sum(rates) / len(rates))
            best = points[max(range(len(points)), key=lambda i: scores[i])]  # first of equals
            selection[f"{scheme}/{label}"] = {"grid": points, "val_mean_success": scores, "chosen": best}
            log.info("%s/%s: validation success %s -> chose %s", scheme, label, scores, best)
        for seed in seeds:
            rd = sweep.run_dir(scheme, label, best, seed)
            sweep.train(scheme, path, best, seed, rd)
            sweep.evaluate(rd, "test")
    bar.close()
    from rabc.io import write_json
    from rabc.report import make_report

    write_json(out / "selection.json", selection)
    for key, sel in selection.items():
        notes.append(
            f"{key}: chose {sel['chosen']} on validation seeds (mean success {max(sel['val_mean_success']):.2f})."
        )
    hparams = {key.replace("/", " / ", 1): sel["chosen"] for key, sel in selection.items()}
    result = make_report(
        out / "runs",
        out / "tables",
        notes=notes,
        preset=str(cfg.get("preset") or "custom"),
        expect={"preset": str(cfg.get("preset") or "custom")},
        hparams=hparams,
    )
    print(result["headline"])
    return out / "tables"


def run_ablation(cfg: DictConfig) -> Path:
    """For each corruption X of ``cfg.ablation``: a half-clean, half-X dataset, uniform BC vs clean-only BC on it
    (run_table4 per corruption), then one table of the harm each corruption alone does to uniform BC."""
    from omegaconf import open_dict

    from rabc.io import atomic_write, write_json

    out = Path(cfg.out).resolve()
    rows = []
    for corruption in cfg.ablation:
        sub = cfg.copy()
        with open_dict(sub):
            sub.dataset.root = f"{cfg.dataset.root}_{corruption}"
            sub.dataset.mix = {**cfg.dataset.mix, corruption: 0.5}
            sub.out = str(out / corruption)
            sub.preset = f"{cfg.get('preset') or 'ablation'}_{corruption}"
        log.info("ablation: clean + %s", corruption)
        tables = run_table4(sub)
        res = json.loads((tables / f"table4_{sub.preset}.json").read_text())
        u = next(r for r in res["rows"] if r["scheme"] == "uniform")
        c = next(r for r in res["rows"] if r["scheme"] == "clean_only")
        rows.append({"corruption": corruption, "uniform": u["success"], "uniform_ci": u["ci"],
                     "clean_only": c["success"], "clean_only_ci": c["ci"], "harm": c["delta_vs_uniform"],
                     "harm_ci": c["delta_ci"], "verdict": c["verdict"]})  # fmt: skip
    fmt = lambda ci: "n/a (1 seed)" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"  # noqa: E731
    md = [
        "# Ablation: how much each corruption alone hurts uniform BC\n",
        "Each row: a dataset of half clean demos and half demos with that corruption; uniform BC on all of it "
        "vs BC on its clean half only, same budget, paired test env seeds. Harm = clean-only − uniform "
        "(95 % hierarchical-bootstrap interval); `better` = clean-only is better, i.e. the corruption hurts.\n",
        "| corruption | uniform BC | clean-only BC | harm (clean-only − uniform) | verdict |",
        "|---|---|---|---|---|",
    ]
    md += [f"| {r['corruption']} | {r['uniform']:.2f} | {r['clean_only']:.2f} | {r['harm']:+.2f} "
           f"{fmt(r['harm_ci'])} | {r['verdict']} |" for r in rows]  # fmt: skip
    (out / "tables").mkdir(parents=True, exist_ok=True)
    write_json(out / "tables" / "ablation.json", {"rows": rows, "seeds": list(cfg.seeds)})
    with atomic_write(out / "tables" / "ablation.md", "w") as fh:
        fh.write("\n".join(md) + "\n")
    print("\n".join(md))
    return out / "tables"


def run_reward_tables(tables: list[int], rest: list[str]) -> None:
    """Tables 1, 2, 3, 5 (VOC, success AUC, chat template): scripts/evaluate_reward.py writes them all at once
    from its own arguments (``model=… datasets=[…] out=…``), which are passed through unchanged."""
    if not REWARD_SCRIPT.is_file():
        raise SystemExit(
            f"table={','.join(map(str, tables))} needs the reward evaluation script {REWARD_SCRIPT}, which does "
            "not exist yet: tables 1, 2, 3 and 5 (VOC, success AUC, chat template) cannot be reproduced."
        )
    cmd = [sys.executable, str(REWARD_SCRIPT), *rest]
    log.info("tables %s: running %s", tables, " ".join(cmd))
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> Path | None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tables, size, rest = parse_argv(sys.argv[1:] if argv is None else argv)
    if 4 not in tables:
        run_reward_tables(tables, rest)
        return None
    if len(tables) > 1:
        raise SystemExit("table=4 takes other arguments than tables 1, 2, 3, 5: run them in separate calls")
    if not (CONFIGS / "reproduce" / f"{size}.yaml").is_file():
        raise SystemExit(f"size={size}: no configs/reproduce/{size}.yaml")
    from rabc.lit.config import register

    register()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(f"reproduce/{size}", overrides=[f"+preset={size}", *rest])
        if cfg.get("dataset_only"):  # the main job makes the dataset before it trains a scorer on it
            print(f"dataset: {ensure_dataset(cfg)}")
            return None
        tables_dir = run_ablation(cfg) if cfg.get("ablation") else run_table4(cfg)
    print(f"Table 4 analogue: {tables_dir}/table4_{size}.md (plots {tables_dir}/table4_{size}*.png)")
    return tables_dir


if __name__ == "__main__":
    main()
