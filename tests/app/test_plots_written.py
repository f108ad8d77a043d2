"""score, weights and eval leave PNG figures beside their artefacts and list them in their results."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import compose_config


def _png(path: Path) -> tuple[int, int]:
    assert path.is_file(), path
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.verify()
    with Image.open(path) as im:
        return im.size


@pytest.mark.parametrize("scorer", ["random", "oracle"])
def test_score_writes_progress_curves_beside_the_parquet(tiny_dataset, tmp_path, scorer):
    from rabc.app import score

    out = tmp_path / "progress.parquet"
    cfg = compose_config(
        "score", [f"dataset.root={tiny_dataset}", f"scorer={scorer}", f"out={out}", "progress_bar=false"]
    )
    res = score.run(cfg)
    assert res.merged and res.plots == (tmp_path / "progress_curves.png",)
    w, h = _png(res.plots[0])
    assert w >= 800 and h >= 300  # several panels


def test_weights_writes_class_histograms_and_increment_scatter(tiny_dataset, tmp_path):
    from rabc.app import weights

    out = tmp_path / "w" / "weights.parquet"
    cfg = compose_config(
        "compute_weights",
        [
            f"progress={tiny_dataset / 'progress' / 'oracle.parquet'}",
            f"out={out}",
            f"dataset_root={tiny_dataset}",
        ],
    )
    res = weights.run(cfg)
    assert res.histogram == out.with_name("weights_hist.png")
    assert res.plots == (res.histogram, out.with_name("weights_vs_increment.png"))
    for p in res.plots:
        _png(p)


def test_weights_without_labels_and_without_histogram(tiny_dataset, tmp_path):
    from rabc.app import weights

    progress = f"progress={tiny_dataset / 'progress' / 'oracle.parquet'}"
    res = weights.run(compose_config("compute_weights", [progress, f"out={tmp_path / 'a.parquet'}"]))
    assert [p.name for p in res.plots] == ["a_hist.png", "a_vs_increment.png"]
    for p in res.plots:
        _png(p)
    off = weights.run(
        compose_config("compute_weights", [progress, f"out={tmp_path / 'b.parquet'}", "histogram=false"])
    )
    assert off.plots == () and off.histogram is None and not list(tmp_path.glob("b_*.png"))


def test_eval_writes_success_bars_beside_the_json(tiny_dataset, tmp_path):
    from rabc.app import eval as eval_app
    from rabc.lit.run import train
    from tests.lit.test_train_e2e import _cfg, _tiny_overrides

    run = tmp_path / "run"
    train(_cfg(_tiny_overrides(tiny_dataset, "experiment=act_bc", "trainer.max_steps=2")), run)
    args = ["episodes=1", "max_steps=4", "batch_size=1", "seed_split=val"]
    res = eval_app.run(compose_config("eval", [f"checkpoint={run}", *args]))
    assert res.out == run / "eval_val.json" and res.out.is_file()
    assert res.plots == (run / "eval_val.png",)
    _png(res.plots[0])
    # a .ckpt and an explicit out: the PNG follows the JSON
    out = tmp_path / "elsewhere" / "ev.json"
    ckpt = run / "checkpoints" / "last.ckpt"
    res = eval_app.run(
        compose_config("eval", [f"checkpoint={ckpt}", *args, "heldout_tasks=[]", f"out={out}"])
    )
    assert res.out == out and res.plots == (out.with_suffix(".png"),)
    _png(res.plots[0])
    from rabc.lit.evaluate import eval_json_path

    assert eval_json_path(ckpt, "val") == run / "eval_val_last.json"
    assert eval_json_path(run, "test") == run / "eval_test.json"
