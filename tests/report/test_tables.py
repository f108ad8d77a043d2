"""rabc.report on synthetic eval JSONs: every number below is computed by hand in the comments."""

import json
import subprocess
import sys

import pytest

from rabc.io import RabcFileError
from rabc.report import build_table, comparisons, load_results, make_report, to_markdown

T975_DF2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom
SQRT3 = 3**0.5


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
            {"seed": seed, "dataset_root": "ds", "progress": progress, "config": {"weighting": weighting}}
        )
    )
    res = {t: {"episodes": 10, "successes": k, "rate": k / 10} for t, k in tasks.items()}
    held = {t: {"episodes": 10, "successes": k, "rate": k / 10} for t, k in (heldout or {}).items()}
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
        write_run(
            r,
            "uniform",
            "uniform",
            s,
            {"a": a, "b": b},
            heldout={"h": 1},
            diag={
                "ess_fraction": 1.0,
                "zero_fraction": 0.0,
                "cv": 0.0,
                "mean": 1.0,
                "by_quality": {"clean": {"mean_weight": 1.0}, "fail": {"mean_weight": 1.0}},
            },
        )
    # tempered, oracle: a 5,5,5; b 6,8,10
    for s, (a, b) in enumerate([(5, 6), (5, 8), (5, 10)]):
        write_run(
            r,
            "temp_oracle",
            "top_awr_tempered",
            s,
            {"a": a, "b": b},
            heldout={"h": 3},
            params={"temperature": "std/3"},
            diag={
                "ess_fraction": 0.5,
                "zero_fraction": 0.1,
                "cv": 1.0,
                "mean": 2.0,
                "by_quality": {"clean": {"mean_weight": 3.0}, "fail": {"mean_weight": 1.0}},
            },
        )
    # tempered, learned progress: a 4,4,4; b 4,6,8
    for s, (a, b) in enumerate([(4, 4), (4, 6), (4, 8)]):
        write_run(
            r,
            "temp_learned",
            "top_awr_tempered",
            s,
            {"a": a, "b": b},
            progress="scores/tiny.parquet",
            params={"temperature": "std/3"},
        )
    # sarm: one seed only, a 3/10, b 5/10 -> Wilson intervals
    write_run(r, "sarm", "sarm", 0, {"a": 3, "b": 5})
    # validation runs of a grid (must not enter the test table)
    write_run(r, "grid1", "top_awr_tempered", 0, {"a": 9, "b": 9}, split="val", params={"temperature": "std"})
    write_run(
        r, "grid2", "top_awr_tempered", 0, {"a": 1, "b": 1}, split="val", params={"temperature": "std/3"}
    )
    return r


def test_cells_layout_and_hand_numbers(runs):
    df = load_results(sorted(runs.rglob("eval_*.json")))
    table = build_table(df, "test")
    assert list(table.columns) == [
        "uniform",
        "top_awr_tempered / oracle",
        "top_awr_tempered / learned:tiny",
        "sarm / oracle",
    ]
    assert list(table.index) == ["a", "b", "mean"]
    # uniform a: rates .2 .4 .6 -> mean .4, sd .2, half-width t * .2 / sqrt 3
    c = table.at["a", "uniform"]
    assert c["method"] == "t" and c["n_seeds"] == 3
    assert c["mean"] == pytest.approx(0.4)
    assert c["half_width"] == pytest.approx(T975_DF2 * 0.2 / SQRT3)
    assert c["lo"] == 0.0 and c["hi"] == pytest.approx(0.4 + T975_DF2 * 0.2 / SQRT3)  # clipped to [0, 1]
    # uniform mean row: per-seed task means .1 .3 .5 -> .3 ± t * .2 / sqrt 3
    m = table.at["mean", "uniform"]
    assert m["mean"] == pytest.approx(0.3) and m["half_width"] == pytest.approx(T975_DF2 * 0.2 / SQRT3)
    # constant rates: zero seed spread
    assert table.at["a", "top_awr_tempered / oracle"]["half_width"] == pytest.approx(0.0)
    # one seed: Wilson 3/10 = [0.1078, 0.6032]
    s = table.at["a", "sarm / oracle"]
    assert s["method"] == "wilson" and s["mean"] == pytest.approx(0.3)
    assert s["lo"] == pytest.approx(0.1078, abs=1e-4) and s["hi"] == pytest.approx(0.6032, abs=1e-4)
    # sarm mean row, one seed: Wilson of the pooled 8/20
    assert table.at["mean", "sarm / oracle"]["mean"] == pytest.approx(0.4)

    comp = comparisons(df, "test")
    # tempered oracle seed means .55 .65 .75 minus uniform .1 .3 .5 = .45 .35 .25 -> .35 ± t * .1 / sqrt 3
    d = comp["top_awr_tempered / oracle"]["vs_uniform"]
    assert d["mean"] == pytest.approx(0.35) and d["half_width"] == pytest.approx(T975_DF2 * 0.1 / SQRT3)
    # learned seed means .4 .5 .6 minus oracle .55 .65 .75 = -.15 each
    lo = comp["top_awr_tempered / learned:tiny"]["vs_oracle"]
    assert lo["mean"] == pytest.approx(-0.15) and lo["half_width"] == pytest.approx(0.0, abs=1e-12)
    # sarm shares only seed 0 with uniform: .4 - .1
    assert comp["sarm / oracle"]["vs_uniform"]["mean"] == pytest.approx(0.3)

    md = to_markdown(table, comp).splitlines()
    assert md[0] == (
        "| task | uniform | top_awr_tempered / oracle | top_awr_tempered / learned:tiny | sarm / oracle |"
    )
    assert md[2] == "| a | 0.40 ± 0.50 | 0.50 ± 0.00 | 0.40 ± 0.00 | 0.30 [0.11, 0.60] |"
    assert md[4].startswith("| **mean** | 0.30 ± 0.50 | 0.65 ± 0.25 | 0.50 ± 0.25 | 0.40 [")
    assert "+0.35 ± 0.25 (n=3)" in md[5] and "-0.15 ± 0.00 (n=3)" in md[6]
    # verdict: tempered oracle .35 ± .25 excludes 0; learned - uniform = .3 .2 .1 -> .2 ± .25 does not
    assert md[7] == "| _verdict vs uniform BC_ | – | better | no detectable difference | too few seeds |"


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


def test_make_report_files(runs, tmp_path):
    out = tmp_path / "tables"
    res = make_report(runs, out, notes=["a note"])
    md = (out / "table4.md").read_text()
    for part in (
        "## Training tasks (test seeds)",
        "## Held-out tasks",
        "## Validation seeds",
        "> a note",
        "| task 4 | 7 | 10 |",
        "| **mean** | 4.78 | 6.78 |",
        "Different setting",
    ):
        assert part in md
    assert (out / "table4.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "table4_heldout.png").stat().st_size > 0
    # diagnostics: tempered clean frames weigh 3.0 / mean 2.0 = 1.5 relative
    assert res["diagnostics"]["top_awr_tempered / oracle"]["w/w̄ clean"] == pytest.approx(1.5)
    assert res["diagnostics"]["uniform"]["ESS fraction"] == pytest.approx(1.0)
    assert json.loads((out / "table4.json").read_text())["test"]["uniform"]["mean"]["mean"] == pytest.approx(
        0.3
    )


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


def test_make_tables_cli_and_no_torch(runs, tmp_path):
    out = tmp_path / "cli"
    code = (
        f"import sys, runpy; sys.argv=['make_tables', 'runs={runs}', 'out={out}']; "
        "runpy.run_path('scripts/make_tables.py', run_name='__main__'); "
        "assert 'torch' not in sys.modules and 'pytorch_lightning' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert "| **mean** | 0.30 ± 0.50 |" in (out / "table4.md").read_text()
