"""A dataset written with lerobot's own API (no rabc sidecar, no `success` / `quality` columns) trains with
progress-based weights; schemes that need success or quality labels fail naming the missing column."""

import numpy as np
import pandas as pd
import pytest

from rabc.lit.run import train
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("foreign") / "ds"
    features = {
        "observation.state": {"dtype": "float32", "shape": (4,), "names": None},
        "observation.environment_state": {"dtype": "float32", "shape": (17,), "names": None},
        "action": {"dtype": "float32", "shape": (4,), "names": None},
    }
    ds = LeRobotDataset.create("someone/foreign", 20, root=root, features=features, use_videos=False)
    rng = np.random.default_rng(0)
    rows = []
    for ep in range(4):
        n = 12 + ep
        for t in range(n):
            ds.add_frame(
                {
                    "observation.state": rng.normal(size=4).astype(np.float32),
                    "observation.environment_state": rng.normal(size=17).astype(np.float32),
                    "action": rng.uniform(-1, 1, size=4).astype(np.float32),
                    "task": "push the puck",
                }
            )
            rows.append((ep, t, t / (n - 1)))
        ds.save_episode()
    ds.finalize()
    # lerobot's progress format: index, episode_index, frame_index, progress_sparse
    df = pd.DataFrame(rows, columns=["episode_index", "frame_index", "progress_sparse"])
    df.insert(0, "index", np.arange(len(df)))
    df["progress_sparse"] = df["progress_sparse"].astype(np.float32)
    (root / "progress").mkdir()
    df.to_parquet(root / "progress" / "scores.parquet", index=False)
    return root


def _cfg(root, *extra):
    return compose_config(
        "train",
        [
            f"dataset.root={root}",
            f"progress={root}/progress/scores.parquet",
            "debug=tiny",
            "logger=none",
            "trainer.enable_model_summary=false",
            "trainer.max_steps=3",
            "trainer.val_check_interval=3",
            "data.val_fraction=0.25",
            *extra,
        ],
    )


def test_foreign_dataset_trains_with_progress_weights(foreign, tmp_path):
    result = train(_cfg(foreign, "weighting=top_awr_tempered"), tmp_path / "run")
    assert result["steps"] == 3
    assert (tmp_path / "run" / "policy" / "config.json").is_file()


@pytest.mark.parametrize(("scheme", "column"), [("success_only", "success"), ("clean_only", "quality")])
def test_label_schemes_name_the_missing_column(foreign, tmp_path, scheme, column):
    with pytest.raises(ValueError, match=f"no '{column}' column"):
        train(_cfg(foreign, f"weighting={scheme}"), tmp_path / scheme)


def test_uniform_weights_raise_no_near_uniform_warning(foreign, tmp_path, caplog):
    """Plain BC is uniform by design: its diagnostics carry no near-uniform warning."""
    import json

    from rabc.data import dataset_fingerprint, episode_table
    from rabc.lit.run import prepare_weights

    eps = episode_table(foreign)
    n = int(eps["to_index"].max())
    prepare_weights(_cfg(foreign, "weighting=uniform"), tmp_path, eps, dataset_fingerprint(foreign), n, 20.0)
    diag = json.loads((tmp_path / "weights_diagnostics.json").read_text())
    assert diag["cv"] == 0.0  # the weights are exactly uniform ...
    assert diag["warnings"] == [] and "near-uniform" not in caplog.text  # ... and that is not flagged
