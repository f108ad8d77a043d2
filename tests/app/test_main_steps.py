"""scripts/main.py's run(): the steps it runs, in order, each with what the next one reads."""

import json

from hydra import compose, initialize_config_dir

from rabc.app import main
from rabc.app.cli import CONFIGS


def test_main_runs_dataset_scorer_scoring_quality_and_table_in_order(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(main, "step", lambda title, args, done=None: calls.append((title, args)))
    out = tmp_path / "runs"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "table4_main.json").write_text(json.dumps({"headline": "h"}))
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "main",
            overrides=[
                f"out={out}",
                f"scorer_dir={tmp_path / 'scorer'}",
                f"dataset_root={tmp_path / 'data'}",
            ],
        )
    res = main.run(cfg)
    assert res.table == {"headline": "h"}
    scripts = [args[0] for _, args in calls]
    assert scripts == ["scripts/reproduce.py", "scripts/make_indomain_scorer.py", "scripts/score.py",
                       "scripts/scorer_quality.py", "scripts/reproduce.py"]  # fmt: skip
    scorer, progress = tmp_path / "scorer", tmp_path / "data" / "progress" / "topreward_indomain.parquet"
    # the scorer's own videos: the main job's corruptions, wrong targets and push-aways at 20 % each
    assert "+dataset.generate.mix={clean:0.4,fail:0.2,wrong_target:0.2,push_away:0.2}" in calls[1][1]
    assert f"scorer.adapter={scorer / 'adapter'}" in calls[2][1] and f"out={progress}" in calls[2][1]
    assert f"calibration_root={scorer / 'dataset'}" in calls[3][1]
    assert calls[4][1][-1] == f"learned_progress={progress}"
    # the preset writes where the main job reads: its dataset root and out come from main's keys
    for call in (calls[0], calls[4]):
        assert f"dataset.root={tmp_path / 'data'}" in call[1] and f"out={out}" in call[1]
