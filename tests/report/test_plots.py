"""The PNG figures are written, are images of a sensible size, and refuse mismatched input."""

import numpy as np
import pytest
from PIL import Image

from rabc.report.plots import (
    plot_eval_report,
    plot_progress_curves,
    plot_weight_histograms,
    plot_weight_vs_increment,
)


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        arr = np.asarray(im.convert("L"))
    assert w >= 400 and h >= 250
    assert arr.std() > 5  # something is drawn
    return w, h


def test_every_figure_is_a_png(tmp_path):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 60)
    curves = {f"ep {i} · push-v3 · {q}": np.clip(t * (0.5 + i / 4) + rng.normal(0, 0.05, 60), 0, 1)
              for i, q in enumerate(["clean", "detour", "fail", "clean"])}  # fmt: skip
    oracle = {k: t for k in curves}
    _png(plot_progress_curves(curves, tmp_path / "progress.png", fps=20, reference=oracle))
    w = np.r_[rng.gamma(4, 0.3, 300), rng.gamma(1, 0.3, 200)]
    cls = np.r_[["clean"] * 300, ["fail"] * 200]
    _png(plot_weight_histograms(w, cls, tmp_path / "hist.png", title="top_awr"))
    _png(plot_weight_vs_increment(rng.normal(0, 0.1, 500), w, tmp_path / "scatter.png", classes=cls))
    report = {
        "name": "act_top_awr", "seed_split": "test",
        "tasks": {"push-v3": {"rate": 0.55, "ci95": [0.32, 0.77], "episodes": 20},
                  "drawer-open-v3": {"rate": 0.9, "ci95": [0.68, 0.99], "episodes": 20}},
        "heldout_tasks": {"drawer-close-v3": {"rate": 0.1, "ci95": [0.01, 0.32], "episodes": 20}},
    }  # fmt: skip
    _png(plot_eval_report(report, tmp_path / "success.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hist.png",
        "progress.png",
        "scatter.png",
        "success.png",
    ]


def test_mismatched_input_is_named():
    with pytest.raises(ValueError, match="one class per weight"):
        plot_weight_histograms(np.ones(3), np.array(["a", "b"]), "x.png")
    with pytest.raises(ValueError, match="no progress curves"):
        plot_progress_curves({}, "x.png", fps=10)
