"""Reproduce the paper's tables: ``python scripts/reproduce.py table=4 size=<preset>`` (configs/reproduce.yaml).

table=4: the simulated analogue of Table 4 for one preset (configs/reproduce/<size>.yaml, the ``size`` config
group): dataset (generated if missing) → for each weighting scheme × progress source (oracle; a learned scorer's
parquet when ``learned_progress`` is given) × training seed: train (rabc.lit.run.train on the composed
configs/train.yaml), tune each scheme's ``grid`` on **validation env seeds**, evaluate the chosen setting on
separate **test env seeds**, then tabulate (rabc.report.make_report). Resumable: a run with an exported policy is
not retrained, an existing eval JSON is not recomputed. A preset with ``ablation`` runs that flow once per
corruption (:func:`run_ablation`).

table=[1,2,3,5]: the reward tables (VOC, success AUC, chat template), all at once by
:func:`rabc.app.evaluate_reward.run` on the ``reward`` node (configs/evaluate_reward/options.yaml).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from rabc.app import cli
from rabc.app.evaluate_reward import EvaluateRewardResult
from rabc.data.oracle import oracle_progress_path
from rabc.report.results import reads_progress

PRESETS = cli.CONFIGS / "reproduce"
TABLES = (1, 2, 3, 4, 5)
REWARD_TABLES = (1, 2, 3, 5)
log = logging.getLogger(__name__)

Recipe = tuple[
    str, str, Path, list[dict[str, Any]]
]  # (scheme, progress label, progress parquet, grid points)


@dataclass(frozen=True)
class Table4Result:
    """One preset's Table 4: its tables directory, the report (``table4_<preset>.json``) and the grid choices."""

    tables: Path
    report: dict[str, Any]
    selection: dict[str, Any]


@dataclass(frozen=True)
class ReproduceResult:
    """What :func:`run` produced: exactly one of ``dataset`` (``dataset_only``), ``table4``, ``ablation`` (the
    ablation tables directory) or ``reward`` is set."""

    tables: list[int]
    dataset: Path | None = None
    table4: Table4Result | None = None
    ablation: Path | None = None
    reward: EvaluateRewardResult | None = None


def register_configs() -> None:
    """The ``size`` config group of configs/reproduce.yaml: one option per preset file configs/reproduce/<name>.yaml
    (which stays a plain ``_global_`` config), recording its name as ``preset``; and the training schema."""
    from rabc.lit.config import register

    register()
    store = ConfigStore.instance()
    for path in sorted(PRESETS.glob("*.yaml")):
        node = {"defaults": [f"/reproduce/{path.stem}", "_self_"], "preset": path.stem}
        store.store(group="size", name=path.stem, node=node, package="_global_")


@contextmanager
def compose_context() -> Iterator[None]:
    """The Hydra compose context the sweep needs for ``compose("train", ...)``: the running app's (scripts/
    reproduce.py) when there is one, else one on configs/."""
    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(config_dir=str(cli.CONFIGS), version_base="1.3"):
        yield


def requested_tables(cfg: DictConfig) -> list[int]:
    """``cfg.table`` (an int or a list) as a list; table 4 alone or any of the reward tables 1, 2, 3, 5."""
    raw = cfg.table
    tables = [int(t) for t in raw] if OmegaConf.is_list(raw) else [int(raw)]
    bad = [t for t in tables if t not in TABLES]
    if not tables or bad:
        raise ValueError(f"table must be 4 or a list of 1, 2, 3, 5 (e.g. table=[1,2,3,5]), got {tables}")
    if 4 in tables and len(tables) > 1:
        raise ValueError("table=4 takes other options than tables 1, 2, 3, 5: run them in separate calls")
    return tables


def run(cfg: DictConfig) -> ReproduceResult:
    """The command behind scripts/reproduce.py: table 4 for the preset in ``cfg`` (or only its dataset with
    ``dataset_only``, or its ablation), or the reward tables 1, 2, 3, 5."""
    cli.runtime_defaults()
    tables = requested_tables(cfg)
    if tables != [4]:
        from rabc.app import evaluate_reward

        log.info("tables %s: reward evaluation into %s", tables, cfg.reward.out)
        return ReproduceResult(tables, reward=evaluate_reward.run(cfg.reward))
    if cfg.get("dataset_only"):  # the main job makes the dataset before it trains a scorer on it
        return ReproduceResult(tables, dataset=ensure_dataset(cfg))
    with compose_context():
        if cfg.get("ablation"):
            return ReproduceResult(tables, ablation=run_ablation(cfg))
        result = run_table4(cfg)
    log.info("Table 4 analogue: %s/table4_%s.md", result.tables, cfg.preset)
    return ReproduceResult(tables, table4=result)


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
    kwargs = {**cli.to_container(cfg.dataset), "root": str(root)}
    generate_dataset(GenerateConfig(**kwargs), show_progress=True)
    return root


def progress_sources(cfg: DictConfig, root: Path) -> tuple[dict[str, Path], list[str]]:
    """{label: progress parquet} and notes about skipped sources."""
    sources, notes = {"oracle": oracle_progress_path(root)}, []
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

    def check(self, recipes: list[Recipe], notes: list[str]) -> list[Recipe]:
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


def make_recipes(cfg: DictConfig, sources: dict[str, Path]) -> list[Recipe]:
    """(scheme, progress label, progress parquet, grid points) for every column of the table."""
    grids = cli.to_container(cfg.grid) if cfg.grid else {}
    unknown = set(grids) - set(cfg.schemes)
    if unknown:
        raise ValueError(f"grid names schemes not in `schemes`: {sorted(unknown)}")
    recipes = []  # (scheme, source label, progress path, grid points)
    for scheme in cfg.schemes:
        points = grid_points(grids.get(scheme))
        uses = recipe_reads_progress(scheme, points)
        for label, path in sources.items():
            if not uses and label != "oracle":
                continue  # uniform / success-only / clean-only BC, success-label episodes: trained once
            recipes.append((scheme, label if uses else "none", path, points))
    return recipes


def recipe_reads_progress(scheme: str, points: list[dict[str, Any]]) -> bool:
    """Whether any grid point of ``scheme`` (configs/weighting/<scheme>.yaml + the point) reads progress."""
    path = cli.CONFIGS / "weighting" / f"{scheme}.yaml"
    loaded = OmegaConf.load(path) if path.is_file() else None
    base = cli.to_container(loaded) if isinstance(loaded, DictConfig) else {}
    return any(reads_progress(scheme, {**base, **point}) for point in points)


def run_table4(cfg: DictConfig) -> Table4Result:
    """The Table 4 flow for one preset: dataset → recipes (scheme × progress source × grid point) → checks →
    per recipe: tune its grid on validation env seeds, train + evaluate the chosen point on test env seeds →
    ``selection.json`` and the tables (rabc.report.make_report). Needs a Hydra compose context (see :func:`run`)."""
    out = Path(cfg.out).resolve()
    root = ensure_dataset(cfg)
    sources, notes = progress_sources(cfg, root)
    seeds = [int(s) for s in cfg.seeds]
    tune_seeds = [int(s) for s in cfg.get("tune_seeds") or seeds]  # the grid is tuned on these training seeds
    if not set(tune_seeds) <= set(seeds):
        raise ValueError(f"tune_seeds {tune_seeds} must be a subset of seeds {seeds}")
    recipes = make_recipes(cfg, sources)
    n_tuning = sum(len(p) for *_, p in recipes if len(p) > 1)
    total = n_tuning * 2 * len(tune_seeds) + 2 * len(recipes) * len(seeds)  # upper bound: train + eval steps
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
                for seed in tune_seeds:
                    rd = sweep.run_dir(scheme, label, point, seed)
                    sweep.train(scheme, path, point, seed, rd)
                    rates.append(sweep.evaluate(rd, "val")["overall"]["rate"])
                scores.append(sum(rates) / len(rates))
            best = points[max(range(len(points)), key=lambda i: scores[i])]  # first of equals
            selection[f"{scheme}/{label}"] = {
                "grid": points,
                "val_mean_success": scores,
                "chosen": best,
                "tune_seeds": tune_seeds,
            }
            log.info("%s/%s: validation success %s -> chose %s", scheme, label, scores, best)
        for seed in seeds:
            rd = sweep.run_dir(scheme, label, best, seed)
            sweep.train(scheme, path, best, seed, rd)
            sweep.evaluate(rd, "test")
    bar.close()
    from rabc.io import write_json
    from rabc.report import make_report
    from rabc.report.build import selection_notes

    write_json(out / "selection.json", selection)
    chosen, hparams = selection_notes(selection)
    notes += chosen
    result = make_report(
        out / "runs",
        out / "tables",
        notes=notes,
        preset=str(cfg.get("preset") or "custom"),
        expect={"preset": str(cfg.get("preset") or "custom")},
        hparams=hparams,
    )
    log.info("%s", result["headline"])
    return Table4Result(out / "tables", result, selection)


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
        res = run_table4(sub).report
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
    log.info("ablation table: %s", out / "tables" / "ablation.md")
    return out / "tables"
