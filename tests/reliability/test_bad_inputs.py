"""Bad inputs to training: each fails early with an error that names the file / key and the problem, and
leaves no checkpoint or policy behind."""

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest

from rabc.data import dataset_fingerprint
from rabc.io import RabcFileError, read_parquet, write_parquet
from rabc.lit.run import train
from rabc.weighting import TopAWR, compute_weights, write_weights
from tests.reliability.helpers import compose_train, tiny_overrides


@pytest.fixture(scope="module")
def weights_file(tiny_dataset, tmp_path_factory):
    """A valid weights parquet of the tiny dataset (paper-exact TOP-AWR on the oracle progress)."""
    path = tmp_path_factory.mktemp("weights") / "weights.parquet"
    result, meta = compute_weights(tiny_dataset / "progress" / "oracle.parquet", TopAWR())
    write_weights(path, result, {**meta, "dataset_fingerprint": dataset_fingerprint(tiny_dataset)})
    return path


def _train_fails(tiny_dataset, run, *overrides, exc=Exception, match):
    """Compose (config errors surface here) and train; both inside the expected failure."""
    with pytest.raises(exc, match=match) as info:
        train(compose_train(tiny_overrides(tiny_dataset, *overrides)), run)
    assert not (run / "checkpoints").exists() and not (run / "policy").exists()
    return info.value


def _rewrite(src, dst, **columns):
    """Copy a rabc parquet with some columns replaced (metadata kept)."""
    table, meta = read_parquet(src)
    for name, values in columns.items():
        table = table.set_column(table.column_names.index(name), name, pa.array(values))
    write_parquet(dst, table, meta)
    return dst


def test_truncated_progress_parquet(tiny_dataset, tmp_path):
    data = (tiny_dataset / "progress" / "oracle.parquet").read_bytes()
    bad = tmp_path / "progress.parquet"
    bad.write_bytes(data[: len(data) // 2])
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"progress={bad}",
        exc=RabcFileError,
        match=r"progress\.parquet: not a readable parquet",
    )


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_progress_with_nan_policy_error(tiny_dataset, tmp_path, value):
    src = tiny_dataset / "progress" / "oracle.parquet"
    table, _ = read_parquet(src)
    p = table.column("progress_sparse").to_numpy().copy()
    p[[3, 10]] = value
    bad = _rewrite(src, tmp_path / "progress.parquet", progress_sparse=p.astype(np.float32))
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"progress={bad}",
        "weighting.nan_policy=error",
        exc=ValueError,
        match=r"(?i)nan|finite",
    )


def test_progress_of_another_dataset(tiny_dataset, tmp_path):
    src = tiny_dataset / "progress" / "oracle.parquet"
    table, meta = read_parquet(src)
    write_parquet(tmp_path / "p.parquet", table, {**meta, "dataset_fingerprint": "f" * 64})
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"progress={tmp_path / 'p.parquet'}",
        exc=RabcFileError,
        match="another dataset",
    )


def test_weights_of_another_dataset(tiny_dataset, tmp_path, weights_file):
    table, meta = read_parquet(weights_file)
    write_parquet(tmp_path / "w.parquet", table, {**meta, "dataset_fingerprint": "0" * 64})
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"weights={tmp_path / 'w.parquet'}",
        exc=RabcFileError,
        match="another dataset",
    )


def test_weights_missing_frames_without_fallback(tiny_dataset, tmp_path, weights_file):
    table, meta = read_parquet(weights_file)
    meta = {k: v for k, v in meta.items() if k != "num_frames"}
    write_parquet(tmp_path / "w.parquet", table.slice(0, table.num_rows - 7), meta)
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"weights={tmp_path / 'w.parquet'}",
        exc=RabcFileError,
        match=r"weights cover \d+ frames but the dataset has \d+",
    )


def test_weights_with_wrong_indices_without_fallback(tiny_dataset, tmp_path, weights_file):
    """Right frame count, but some frames of the dataset have no weight (indices shifted past the end)."""
    table, _ = read_parquet(weights_file)
    index = table.column("index").to_numpy().copy()
    index[:5] += len(index)
    order = np.argsort(index)
    _rewrite(weights_file, tmp_path / "w.parquet", index=index[order],
             advantage=table.column("advantage").to_numpy()[order], weight=table.column("weight").to_numpy()[order])  # fmt: skip
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        f"weights={tmp_path / 'w.parquet'}",
        match=r"(?i)no weight|missing|not in",
    )


@pytest.mark.parametrize(
    ("weighting", "override", "match"),
    [
        ("top_awr", "weighting.tau=-1", r"tau and max_weight must be positive, got -1"),
        ("top_awr", "weighting.max_weight=0", r"tau and max_weight must be positive, got 2.0, 0"),
        ("top_awr_tempered", "weighting.temperature=-2", r"temperature must be positive, got -2"),
        ("sarm", "weighting.kappa=-0.1", r"kappa must be"),
        ("sarm", "weighting.epsilon=0", r"epsilon must be"),
        ("top_awr", "weighting.horizon_s=-0.5", r"horizon_s must be a positive number of seconds"),
    ],
)
def test_out_of_range_scheme_parameters(tiny_dataset, tmp_path, weighting, override, match):
    # Hydra wraps the constructor's ValueError (InstantiationException); the message carries it through
    err = _train_fails(tiny_dataset, tmp_path / "run", f"weighting={weighting}", override, match=match)
    assert isinstance(err.__cause__, ValueError), repr(err)


def test_unknown_task(tiny_dataset, tmp_path):
    _train_fails(
        tiny_dataset,
        tmp_path / "run",
        "data.tasks=[push-v3,pussh-v3]",
        exc=ValueError,
        match=r"data\.tasks.*pussh-v3",
    )


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("data.batchsize=3", "batchsize"),
        ("optimizer.lr=fast", "lr"),
        ("seeed=1", "seeed"),
        ("weighting.taux=2", "taux"),
    ],
)
def test_config_typos(tiny_dataset, tmp_path, override, match):
    _train_fails(tiny_dataset, tmp_path / "run", override, match=match)


def test_wrong_feature_shape_in_dataset(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"]["observation.environment_state"]["shape"] = [12]
    info_path.write_text(json.dumps(info))
    _train_fails(
        root,
        tmp_path / "run",
        exc=RabcFileError,
        match=r"observation\.environment_state.*shape \[17\].*declares \[12\]",
    )
