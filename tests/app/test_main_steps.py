"""scripts/main.py's run(): the steps it runs, in order — the scorer recipe from ``scorer_members`` model seeds on
one set of videos, each scorer's progress, their mean, and the scorer-quality table with the mean as a row."""

import json

from hydra import compose, initialize_config_dir

from rabc.app import main
from rabc.app.cli import CONFIGS


def test_main_trains_scores_and_averages_the_scorer_members(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(main, "step", lambda title, args, done=None: calls.append((title, args)))
    out = tmp_path / "runs"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "table4_main.json").write_text(json.dumps({"headline": "h"}))
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "main", overrides=[f"out={out}", f"scorer_dir={tmp_path / 'scorer'}", "scorer_members=3"]
        )
    cfg.dataset = str(tmp_path / "data")  # `dataset=` on the command line would name the config group
    res = main.run(cfg)
    assert res.table == {"headline": "h"}
    scripts = [args[0] for _, args in calls]
    assert scripts == ["scripts/reproduce.py", *["scripts/make_indomain_scorer.py"] * 3, *["scripts/score.py"] * 3,
                       "scripts/ensemble_progress.py", "scripts/scorer_quality.py", "scripts/reproduce.py"]  # fmt: skip
    trains = [args for _, args in calls[1:4]]
    # member 0 generates the videos (the scorer_data overrides); the others reuse them, other seeds
    assert any(a.startswith("+dataset.generate.mix=") for a in trains[0])
    for i, args in enumerate(trains):
        assert f"model.seed={i}" in args and f"full.seed={i}" in args and f"lora.seed={i + 1}" in args
    assert f"dataset.root={tmp_path / 'scorer' / 'dataset'}" in trains[1]
    assert f"out={tmp_path / 'scorer' / 'members' / 'seed2'}" in trains[2]
    progress = tmp_path / "data" / "progress"
    members = [str(progress / f"topreward_indomain_m{i}.parquet") for i in range(3)]
    assert calls[7][1][1] == f"inputs=[{','.join(members)}]"
    mean = progress / "topreward_indomain.parquet"
    assert f"+progress.ensemble={mean}" in calls[8][1]
    assert calls[9][1][-1] == f"learned_progress={mean}"
