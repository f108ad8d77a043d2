"""rabc.report on synthetic eval JSONs: every number below is computed by hand in the comments."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rabc.io import RabcFileError
from rabc.report import NO_HEADROOM, build_table, load_results, make_report, table4_rows, to_markdown


def _task_result(k, n=10):
    """k successes of n on env seeds 1000..1000+n-1: the first k episodes succeed."""
    return {
        "episodes": n,
        "successes": k,
        "rate": k / n,
        "env_seeds": list(range(1000, 1000 + n)),
        "outcomes": [1] * k + [0] * (n - k),
    }


def write_run(
    root,
    name,
    scheme,
    seed,
    tasks,
    *,
    split="test",
    heldout=None,
    progress="ds/progress/oracle.parquet",
    params=None,
    diag=None,
):
    """A run dir with run.json (+ weights_diagnostics.json) and eval_<split>.json; tasks = {task: successes/10}."""
    d = root / name / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    weighting = {"_target_": "x", "name": scheme, **(params or {})}
    (d / "run.json").write_text(
        json.dumps(
            {
                "seed": seed,
                "dataset_root": "ds",
                "dataset_fingerprint": "fp",
                "progress": progress,
                "config": {"weighting": weighting, "preset": "unit"},
            }
        )
    )
    res = {t: _task_result(k) for t, k in tasks.items()}
    held = {t: _task_result(k) for t, k in (heldout or {}).items()}
    (d / f"eval_{split}.json").write_text(
        json.dumps(
            {
                "seed_split": split,
                "weighting": scheme,
                "progress": progress,
                "train_seed": seed,
                "tasks": res,
                "heldout_tasks": held,
            }
        )
    )
    if diag:
        (d / "weights_diagnostics.json").write_text(json.dumps(diag))
    return d


@pytest.fixture
def runs(tmp_path):
    r = tmp_path / "runs"
    # uniform: task a 2,4,6 /10; task b 0,2,4 /10 over seeds 0,1,2; held-out task h 1,1,1 /10
    for s, (a, b) in enumerate([(2, 0), (4, 2), (6, 4)]):
        diag = {
            "ess_fraction": 1.0,
            "zero_fraction": 0.0,
            "cv": 0.0,
            "mean": 1.0,
            "by_quality": {"clean": {"mean_weight": 1.0}, "fail": {"mean_weight": 1.0}},
        }
        write_run(r, "uniform", "uniform", s, {"a": a, "b": b}, heldout={"h": 1}, diag=diag)
    # success-only BC (the upper row): a 9,9,10; b 8,9,9
    for s, (a, b) in enumerate([(9, 8), (9, 9), (10, 9)]):
        write_run(r, "succ", "success_only", s, {"a": a, "b": b}, heldout={"h": 1})
    # tempered, oracle: a 5,5,5; b 6,8,10
    for s, (a, b) in enumerate([(5, 6), (5, 8), (5, 10)]):
        diag = {
            "ess_fraction": 0.5,
            "zero_fraction": 0.1,
            "cv": 1.0,
            "mean": 2.0,
            "by_quality": {"clean": {"mean_weight": 3.0}, "fail": {"mean_weight": 1.0}},
            "separation": {"auc": 0.8 + 0.05 * s, "bad_over_clean": 0.3, "bad_weight_fraction": 0.2},
        }
        write_run(
            r,
            "temp_oracle",
            "top_awr_tempered",
            s,
            {"a": a, "b": b},
            heldout={"h": 3},
            params={"temperature": "std/3"},
            diag=diag,
        )
    # tempered, learned progress: a 2,4,6 (= uniform); b 0,2,4
    for s, (a, b) in enumerate([(2, 0), (4, 2), (6, 4)]):
        write_run(
            r,
            "temp_learned",
            "top_awr_tempered",
            s,
            {"a": a, "b": b},
            heldout={"h": 1},
            progress="scores/tiny.parquet",
            params={"temperature": "std/3"},
        )
    # validation runs of a grid (must not enter the test table)
    write_run(r, "grid1", "top_awr_tempered", 0, {"a": 9, "b": 9}, split="val", params={"temperature": "std"})
    write_run(
        r, "grid2", "top_awr_tempered", 0, {"a": 1, "b": 1}, split="val", params={"temperature": "std/3"}
    )
    return r


def test_cells_are_binomial_intervals_inside_unit_interval(runs):
    df = load_results(sorted(runs.rglob("eval_*.json")))
    table = build_table(df, "test")
    assert list(table.columns) == [
        "uniform",
        "success_only",
        "top_awr_tempered / oracle",
        "top_awr_tempered / learned:tiny",
    ]
    assert list(table.index) == ["a", "b", "mean"]
    c = table.at["a", "uniform"]  # 12 of 30 pooled: Wilson (0.4 + z²/60)/(1 + z²/30) ± ... = [0.2459, 0.5768]
    assert c["method"] == "wilson" and c["n_seeds"] == 3 and c["mean"] == pytest.approx(0.4)
    assert c["lo"] == pytest.approx(0.2459, abs=1e-4) and c["hi"] == pytest.approx(0.5768, abs=1e-4)
    for col in table.columns:
        for task in table.index:
            cell = table.at[task, col]
            assert 0.0 <= cell["lo"] <= cell["mean"] <= cell["hi"] <= 1.0
    md = to_markdown(table).splitlines()
    assert md[2].startswith("| a | 0.40 [0.25, 0.58] |")


def test_table4_rows_paired_headroom_and_verdicts(runs):
    df = load_results(sorted(runs.rglob("eval_*.json")))
    res = table4_rows(df[(df["split"] == "test") & ~df["heldout"]], n_boot=2000)
    rows = {r["column"]: r for r in res["rows"]}
    assert res["tasks"] == ["a", "b"] and res["seeds"] == [0, 1, 2] and res["episodes_per_task_seed"] == 10
    # headroom: success-only .9 - uniform .3 = .6, its interval above 0
    h = res["headroom"]
    assert h["upper_row"] == "success_only" and h["value"] == pytest.approx(0.6) and h["ci"][0] > 0
    t = rows["top_awr_tempered / oracle"]
    assert t["delta_vs_uniform"] == pytest.approx(0.35) and t["verdict"] == "better"
    assert t["headroom_recovered"] == pytest.approx(0.35 / 0.6)
    # learned = uniform outcome for outcome: Δ is exactly 0 in every paired resample
    lr = rows["top_awr_tempered / learned:tiny"]
    assert lr["delta_ci"] == [0.0, 0.0] and lr["verdict"] == "no detectable difference"
    assert set(lr) >= {
        "scheme",
        "progress",
        "success",
        "ci",
        "delta_vs_uniform",
        "delta_ci",
        "headroom_recovered",
        "headroom_recovered_ci",
        "verdict",
        "hparams",
    }


def test_table4_refuses_unpaired_results(runs):
    df = load_results(sorted(runs.rglob("eval_*.json")))
    sel = df[(df["split"] == "test") & ~df["heldout"]].copy()
    i = sel.index[sel["column"] == "success_only"][0]
    sel.at[i, "env_seeds"] = list(range(2000, 2010))
    with pytest.raises(ValueError, match="not a paired design"):
        table4_rows(sel)


def test_heldout_and_validation_are_separate(runs):
    df = load_results(sorted(runs.rglob("eval_*.json")))
    held = build_table(df, "test", heldout=True)
    assert list(held.index) == ["h", "mean"]
    assert held.at["h", "uniform"]["mean"] == pytest.approx(0.1)
    assert held.at["h", "top_awr_tempered / oracle"]["mean"] == pytest.approx(0.3)
    val = build_table(df, "val")
    # two settings of one scheme on one split: labelled by the parameter that differs
    assert sorted(val.columns) == [
        "top_awr_tempered / oracle [temperature=std/3]",
        "top_awr_tempered / oracle [temperature=std]",
    ]


def test_make_report_files_and_schema(runs, tmp_path):
    out = tmp_path / "tables"
    res = make_report(runs, out, notes=["a note"], expect={"preset": "unit"})
    md = (out / "table4_unit.md").read_text()
    for part in (
        "## Headline",
        "## Held-out tasks — zero-shot",
        "## Validation seeds",
        "> a note",
        "| task 4 | 7 | 10 |",
        "Different setting",
    ):
        assert part in md
    assert (out / "table4_unit.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "table4_unit.json").read_text())
    for key in (
        "preset",
        "tasks",
        "n_seeds",
        "test_episodes_per_task_seed",
        "val_seeds",
        "test_seeds",
        "headroom",
        "rows",
    ):
        assert key in saved
    assert saved["preset"] == "unit" and saved["n_seeds"] == 3 and saved["test_episodes_per_task_seed"] == 10
    assert saved["test_seeds"] == list(range(1000, 1010)) and set(saved["headroom"]) >= {
        "upper_row",
        "value",
        "ci",
    }
    diag = res["diagnostics"]["top_awr_tempered / oracle"]
    assert diag["w/w̄ clean"] == pytest.approx(1.5)
    assert diag["good-vs-bad AUC"] == pytest.approx(0.85) and diag["bad/clean weight"] == pytest.approx(0.3)
    assert np.isnan(res["diagnostics"]["uniform"]["good-vs-bad AUC"])  # its runs have no separation report
    assert "| good-vs-bad AUC | bad/clean weight | weight on bad |" in md
    assert "top_awr_tempered (oracle progress) reaches 0.65" in saved["headline"]


def test_no_headroom_header_and_one_seed(tmp_path):
    r = tmp_path / "runs"
    write_run(r, "uniform", "uniform", 0, {"a": 5})
    write_run(r, "succ", "success_only", 0, {"a": 5})
    write_run(r, "temp", "top_awr_tempered", 0, {"a": 9})
    res = make_report(r, tmp_path / "t")
    assert res["headroom"]["ci"] is None and not res["headroom"]["has_headroom"]
    assert all(row["ci"] is None for row in res["rows"])
    assert {row["verdict"] for row in res["rows"]} == {"baseline", "n/a (1 seed)"}
    md = (tmp_path / "t" / "table4_unit.md").read_text()
    assert NO_HEADROOM in md and "n/a (1 seed)" in md


def test_refuses_results_of_another_preset_or_dataset(runs, tmp_path):
    with pytest.raises(ValueError, match="preset is 'unit', expected 'decisive'"):
        make_report(runs, tmp_path / "o", expect={"preset": "decisive"})
    other = write_run(tmp_path / "x", "u", "uniform", 7, {"a": 1})
    rj = json.loads((other / "run.json").read_text())
    rj["dataset_fingerprint"] = "other"
    (other / "run.json").write_text(json.dumps(rj))
    with pytest.raises(ValueError, match="dataset_fingerprint"):
        make_report([runs, other], tmp_path / "o2")


def test_runs_of_a_named_preset_may_join_another_presets_table(runs, tmp_path):
    """Runs reused from preset 'unit' join a 'sweep' table only when named in join_presets, with a note."""
    for seed in range(3):
        extra = write_run(tmp_path / "x", "k", "top_k", seed, {"a": 5, "b": 5})
        rj = json.loads((extra / "run.json").read_text())
        rj["config"]["preset"] = "sweep"
        (extra / "run.json").write_text(json.dumps(rj))
    with pytest.raises(ValueError, match="several values of preset"):
        make_report([runs, tmp_path / "x"], tmp_path / "o")
    with pytest.raises(ValueError, match="needs the table's own preset"):
        make_report([runs, tmp_path / "x"], tmp_path / "o", join_presets=["unit"])
    # episode weights from success labels read no progress: progress "none", never the headline's scheme
    for s, (a, b) in enumerate([(9, 9), (10, 9), (10, 10)]):
        write_run(tmp_path / "x", "ep", "episode", s, {"a": a, "b": b}, params={"source": "success"})
    res = make_report([runs, tmp_path / "x"], tmp_path / "o", preset="sweep", join_presets=["unit"])
    assert res["preset"] == "sweep" and "top_k" in {r["scheme"] for r in res["rows"]}
    (ep,) = [r for r in res["rows"] if r["scheme"] == "episode"]
    assert ep["progress"] == "none" and ep["success"] == pytest.approx(0.95)  # above every other scheme
    assert res["headline"].startswith("top_awr_tempered (oracle progress) reaches")
    assert "preset(s) unit (same dataset) joined" in (tmp_path / "o" / "table4_sweep.md").read_text()


def test_bad_inputs(runs, tmp_path):
    bad = tmp_path / "bad" / "eval_test.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"tasks": {}}))
    with pytest.raises(RabcFileError, match="seed_split"):
        load_results([bad])
    bad.write_text(json.dumps({"seed_split": "test", "tasks": {"a": {"episodes": 5, "successes": 7}}}))
    with pytest.raises(RabcFileError, match="7 successes of 5"):
        load_results([bad])
    dup = write_run(tmp_path / "dup", "u2", "uniform", 0, {"a": 1})
    with pytest.raises(ValueError, match="more than once"):
        load_results([*runs.rglob("eval_test.json"), dup / "eval_test.json"])
    with pytest.raises(FileNotFoundError):
        make_report(tmp_path / "nothing*", tmp_path / "o")


def test_tables_command_and_no_torch(runs, tmp_path):
    out = tmp_path / "cli"
    code = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from rabc.app import cli, tables\n"
        "with initialize_config_dir(config_dir=str(cli.CONFIGS), version_base='1.3'):\n"
        f"    res = tables.run(compose('make_tables', overrides=['runs={runs}', 'out={out}']))\n"
        "print(res.summary())\n"
        "assert 'torch' not in sys.modules and 'pytorch_lightning' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"tables: {out}/table4_unit.md" in proc.stdout
    assert "| a | 0.40 [0.25, 0.58] |" in (out / "table4_unit.md").read_text()


def test_tables_command_folds_in_validation_choices_and_notes(runs, tmp_path, compose_cfg):
    from rabc.app import tables
    from rabc.io import RabcFileError

    sel = tmp_path / "selection.json"
    sel.write_text(json.dumps({"top_awr_tempered/oracle": {"grid": [{"t": 1}, {"t": 2}], "val_mean_success": [0.5, 0.25],
                                                           "chosen": {"t": 1}, "tune_seeds": [0, 1]}}))  # fmt: skip
    res = tables.run(compose_cfg("make_tables", [f"runs={runs}", f"out={tmp_path / 't'}", f"selection=[{sel}]",
                                                 "notes=[progress from elsewhere]"]))  # fmt: skip
    text = (tmp_path / "t" / "table4_unit.md").read_text()
    assert "> progress from elsewhere" in text
    assert (
        "top_awr_tempered/oracle: chose {'t': 1} on validation env seeds with training seeds [0, 1]" in text
    )
    assert "{'t': 2} 0.25" in text and res.preset == "unit"
    (tmp_path / "bad.json").write_text("{}{")
    with pytest.raises(RabcFileError, match="not a reproduce selection.json"):
        tables.run(
            compose_cfg(
                "make_tables",
                [f"runs={runs}", f"out={tmp_path / 'u'}", f"selection=[{tmp_path / 'bad.json'}]"],
            )
        )


def test_seed_ranges_are_written_as_contiguous_runs():
    from rabc.report.build import _seed_range

    assert _seed_range([]) == "–"
    assert _seed_range([3, 1, 2]) == "1–3 (3)"
    assert _seed_range([*range(10, 13), *range(100, 102), 7]) == "7, 10–12, 100–101 (6)"


def test_eval_seeds_are_disjoint_per_task_and_refuse_demo_seeds():
    import pytest

    from rabc.lit.evaluate import TASK_BLOCK, eval_seeds

    push, drawer = eval_seeds("test", 30, task="push-v3"), eval_seeds("test", 30, task="drawer-open-v3")
    assert len(push) == 30 and not set(push) & set(drawer) and abs(push[0] - drawer[0]) % TASK_BLOCK == 0
    assert (
        eval_seeds("test", 30, task="push-v3") == push
    )  # the same seeds for every recipe: the paired design
    assert not set(eval_seeds("val", 30, task="push-v3")) & set(push)
    with pytest.raises(ValueError, match="used for demonstrations"):
        eval_seeds("test", 5, demo_seeds=[push[2]], task="push-v3")
    with pytest.raises(ValueError, match="unknown Meta-World task"):
        eval_seeds("test", 5, task="nope-v3")
