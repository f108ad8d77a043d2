"""rabc.app.reproduce end to end: real dataset, real training, real Meta-World rollouts, then the tables."""

import json
import logging
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from rabc.app import reproduce as mod

REPO = Path(__file__).resolve().parents[2]
TRAIN = [
    "policy=act",
    "trainer.max_steps=10",
    "trainer.val_check_interval=10",
    "trainer.enable_progress_bar=false",
    "++trainer.enable_model_summary=false",
    "data.batch_size=8",
]


def run(overrides):
    """configs/reproduce.yaml composed with ``overrides`` (as scripts/reproduce.py composes it), then run."""
    mod.register_configs()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("reproduce", overrides=overrides)
        return mod.run(cfg)


def test_table_choice_is_checked():
    for bad, match in (
        ("table=7", "table must be"),
        ("table=[1,4]", "separate calls"),
        ("table=[]", "table must"),
    ):
        with pytest.raises(ValueError, match=match):
            run([bad])


def test_size_selects_the_preset_and_records_its_name():
    mod.register_configs()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("reproduce", overrides=["size=medium", "seeds=[4]"])
        direct = compose("reproduce/medium")
    assert cfg.preset == "medium" and list(cfg.seeds) == [4] and cfg.table == 4
    for key in ("out", "dataset", "schemes", "grid", "train_overrides", "eval"):
        assert cfg[key] == direct[key], key


def test_reward_tables_run_the_reward_evaluation(tiny_dataset, tmp_path):
    """table=[1,2,3,5]: the reward evaluation on the ``reward`` options (reference scorers, 2 episodes)."""
    out = tmp_path / "reward"
    res = run(["table=[1,2,3,5]", "reward.model=unused", f"reward.datasets=[{tiny_dataset}]", f"reward.out={out}",
               "reward.scorers=[oracle,random]", "reward.max_episodes=3", "reward.n_boot=50"])  # fmt: skip
    assert res.tables == [1, 2, 3, 5] and res.table4 is None and res.reward is not None
    assert res.reward.tables == out / "tables.md" and "Table 1" in res.reward.tables.read_text()
    assert set(res.reward.results["table1_voc"]) == {"oracle", "random"}


def test_dataset_only_generates_the_preset_dataset(tmp_path):
    res = run(["size=smoke", f"dataset.root={tmp_path / 'ds'}", "dataset.train_tasks=[push-v3]",
               "dataset.heldout_tasks=[]", "dataset.episodes_per_task=1", "dataset.heldout_episodes_per_task=0",
               "+dataset_only=true"])  # fmt: skip
    assert res.dataset == tmp_path / "ds" and (res.dataset / "meta" / "info.json").is_file()
    assert res.table4 is None


def test_grid_points():
    assert mod.grid_points(None) == [{}]
    pts = mod.grid_points({"temperature": ["std/3", "std"], "horizon_s": [0.1]})
    assert pts == [{"temperature": "std/3", "horizon_s": 0.1}, {"temperature": "std", "horizon_s": 0.1}]
    assert mod.point_tag(pts[0]) == "temperature=std_3,horizon_s=0.1"


def test_tiny_sweep_tunes_on_val_reports_on_test_and_resumes(tiny_dataset, tmp_path, caplog):
    """uniform + tempered TOP-AWR (2 temperatures) × oracle and a second progress file, 1 seed, 10 steps."""
    learned = tmp_path / "scores" / "tiny_scorer.parquet"
    learned.parent.mkdir()
    shutil.copy(tiny_dataset / "progress" / "oracle.parquet", learned)  # same dataset fingerprint
    out = tmp_path / "out"
    args = [
        "table=4",
        "size=smoke",
        f"out={out}",
        f"dataset.root={tiny_dataset}",
        "seeds=[0]",
        f"learned_progress={learned}",
        "schemes=[uniform,top_awr_tempered]",
        "grid={top_awr_tempered:{target_ess:[0.4,0.8]}}",
        "train_overrides=[" + ",".join(f"'{o}'" for o in TRAIN) + "]",
        "eval.val_episodes=2",
        "eval.test_episodes=2",
        "eval.batch_size=2",
        "eval.max_steps=30",
    ]
    result = run(args)
    tables = result.table4.tables
    assert result.table4.report["preset"] == "smoke" and result.table4.selection.keys() == {
        "top_awr_tempered/oracle",
        "top_awr_tempered/learned",
    }
    runs = out / "runs"
    # validation only for the grid points, test only for the chosen one per progress source
    val = sorted(p.parent.parent.name for p in runs.rglob("eval_val.json"))
    test = sorted(p.parent.parent.name for p in runs.rglob("eval_test.json"))
    assert len(val) == 4 and all(v.startswith("top_awr_tempered-") for v in val)
    assert len(test) == 3 and "uniform-none" in test
    sel = json.loads((out / "selection.json").read_text())
    assert set(sel) == {"top_awr_tempered/oracle", "top_awr_tempered/learned"}
    for s in sel.values():
        assert s["chosen"] == s["grid"][max(range(2), key=lambda i: s["val_mean_success"][i])]
    for p in runs.rglob("eval_test.json"):
        rep = json.loads(p.read_text())
        assert min(min(s) for s in rep["seeds"].values()) >= 20_000_000
        assert set(rep["heldout_tasks"]) == {"drawer-close-v3"}
    md = (tables / "table4_smoke.md").read_text()
    for col in ("| uniform |", "top_awr_tempered / oracle", "top_awr_tempered / learned:tiny_scorer"):
        assert (
            col
            in md.splitlines()[next(i for i, line in enumerate(md.splitlines()) if line.startswith("| task"))]
        )
    res = json.loads((tables / "table4_smoke.json").read_text())
    assert res["preset"] == "smoke" and res["n_seeds"] == 1 and (tables / "table4_smoke.png").is_file()
    assert {r["verdict"] for r in res["rows"]} == {"baseline", "n/a (1 seed)"}
    assert res["test_seeds"] and not set(res["test_seeds"]) & set(res["val_seeds"])
    chosen = sel["top_awr_tempered/oracle"]["chosen"]
    assert next(r for r in res["rows"] if r["column"] == "top_awr_tempered / oracle")["hparams"] == chosen

    # resumable: nothing is retrained or re-evaluated
    stamps = {p: p.stat().st_mtime_ns for p in runs.rglob("eval_*.json")}
    with caplog.at_level(logging.INFO, logger="rabc.app.reproduce"):
        run(args)
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("eval_*.json")} == stamps
    assert "train weighting=" not in caplog.text and "skip training (done)" in caplog.text


@pytest.mark.slow
def test_smoke_size_end_to_end(tmp_path):
    """The CI-sized sweep exactly as configured (dataset generation included): a few minutes on 2 cores."""
    out = tmp_path / "smoke"
    tables = run(["table=4", "size=smoke", f"out={out}", f"dataset.root={tmp_path / 'ds'}"]).table4.tables
    res = json.loads((tables / "table4_smoke.json").read_text())
    header = next(
        line for line in (tables / "table4_smoke.md").read_text().splitlines() if line.startswith("| task")
    )
    assert header == (
        "| task | uniform | success_only | top_awr / oracle | top_awr_tempered / oracle | sarm / oracle"
        " | filtered / oracle |"
    )
    for col in res["per_task"]["test"].values():
        assert set(col) == {"push-v3", "drawer-open-v3", "mean"} and col["mean"]["n_seeds"] == 2
    assert res["n_seeds"] == 2 and all(r["ci"] is not None for r in res["rows"])


@pytest.mark.parametrize("size", sorted(p.stem for p in (REPO / "configs" / "reproduce").glob("*.yaml")))
def test_every_size_composes_and_builds_its_schemes(size, tmp_path):
    """Each size's runs compose with configs/train.yaml and build their weighting schemes (no training)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import open_dict

    mod.register_configs()
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(f"reproduce/{size}")
        assert len(cfg.seeds) >= (3 if size in ("medium", "full") else 1)
        sources = {"oracle": tmp_path / "oracle.parquet", "learned": tmp_path / "learned.parquet"}
        recipes = mod.make_recipes(cfg, sources)
        pairs = [r[:2] for r in recipes]  # progress-free rows once, every other scheme with both sources
        grids = cfg.grid or {}
        free = [x for x in cfg.schemes if not mod.recipe_reads_progress(x, mod.grid_points(grids.get(x)))]
        assert {"uniform", "success_only", "clean_only"} & set(cfg.schemes) <= set(free)
        assert "top_awr_tempered" not in free
        assert ("episode" in free) == ("episode" in cfg.schemes)  # source: success reads no progress
        expect = [[(x, "none")] if x in free else [(x, "oracle"), (x, "learned")] for x in cfg.schemes]
        assert pairs == [p for ps in expect for p in ps]
        for scheme, _, _, points in recipes:  # every grid point composes and builds its scheme
            for point in points:
                instantiate(
                    compose(
                        "train",
                        overrides=mod.Sweep(cfg, tmp_path, tmp_path, None).overrides(
                            scheme, tmp_path / "p.parquet", point, 0
                        ),
                    ).weighting
                )
        bad = compose(f"reproduce/{size}")
        with open_dict(bad):
            bad.grid = {"top_awr_tempered": {"temperatur": [1.0]}}
        with pytest.raises(Exception, match="temperatur"):
            compose(
                "train",
                overrides=mod.Sweep(bad, tmp_path, tmp_path, None).overrides(
                    "top_awr_tempered", tmp_path / "p.parquet", {"temperatur": 1.0}, 0
                ),
            )
