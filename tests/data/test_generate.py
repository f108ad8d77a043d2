"""Generator: exact mixes, determinism, configs that compose into a valid GenerateConfig."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from rabc.data import GenerateConfig, dataset_fingerprint, generate_dataset
from rabc.data.generate import ORACLE_PROGRESS_PATH, allocate_qualities, plan_episodes
from rabc.sim import Quality

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs" / "dataset")


def test_allocation_is_exact_and_seeded():
    mix = {"clean": 0.2, "noise": 0.2, "hesitate": 0.15, "detour": 0.25, "fail": 0.2}
    q = allocate_qualities(mix, 20, np.random.default_rng(0))
    counts = {k: sum(int(x) == int(Quality[k.upper()]) for x in q) for k in mix}
    assert counts == {"clean": 4, "noise": 4, "hesitate": 3, "detour": 5, "fail": 4}
    assert q == allocate_qualities(mix, 20, np.random.default_rng(0))


def test_plan_seeds_unique_and_deterministic(tmp_path):
    cfg = GenerateConfig(root=str(tmp_path / "x"), episodes_per_task=5)
    plan = plan_episodes(cfg)
    seeds = [p["seed"] for p in plan]
    assert len(seeds) == len(set(seeds)) == 6 * 5 + 3 * 2
    assert plan == plan_episodes(GenerateConfig(root=str(tmp_path / "y"), episodes_per_task=5))
    shifted = plan_episodes(GenerateConfig(root=str(tmp_path / "z"), episodes_per_task=5, seed_start=1000))
    assert not set(seeds) & {p["seed"] for p in shifted}


def test_bad_config_values(tmp_path):
    with pytest.raises(ValueError, match="unknown Meta-World task"):
        GenerateConfig(root=str(tmp_path), train_tasks=["push-v9"])
    with pytest.raises(ValueError, match="unknown quality"):
        GenerateConfig(root=str(tmp_path), mix={"sloppy": 1.0})
    with pytest.raises(ValueError, match="both training and held-out"):
        GenerateConfig(root=str(tmp_path), heldout_tasks=["push-v3"])
    with pytest.raises(ValueError, match="corruption"):
        GenerateConfig(root=str(tmp_path), corruption={"no_such_knob": 1})


@pytest.mark.sim
def test_same_seed_same_dataset(tmp_path):
    def make(name):
        cfg = GenerateConfig(
            root=str(tmp_path / name),
            train_tasks=["pick-place-v3"],
            heldout_tasks=[],
            episodes_per_task=2,
            heldout_episodes_per_task=0,
            mix={"detour": 1, "noise": 1},
            image_size=32,
        )
        generate_dataset(cfg, show_progress=False)
        return tmp_path / name

    a, b = make("a"), make("b")
    assert dataset_fingerprint(a) == dataset_fingerprint(b)
    ta = pq.read_table(a / "data/chunk-000/file-000.parquet").to_pandas()
    tb = pq.read_table(b / "data/chunk-000/file-000.parquet").to_pandas()
    for col in ("observation.state", "action", "observation.environment_state", "progress_oracle"):
        np.testing.assert_array_equal(np.stack(ta[col]), np.stack(tb[col]))
    pa_, pb = pq.read_table(a / ORACLE_PROGRESS_PATH), pq.read_table(b / ORACLE_PROGRESS_PATH)
    assert pa_.equals(pb)
    with pytest.raises(FileExistsError):
        generate_dataset(GenerateConfig(root=str(a), train_tasks=["push-v3"], heldout_tasks=[]))


@pytest.mark.parametrize(
    "overrides",
    [[], ["mix=balanced"], ["mix=adverse", "episodes_per_task=50"]],
)
def test_configs_compose(overrides, tmp_path):
    for name in ("default", "full"):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name=name, overrides=[*overrides, f"root={tmp_path}/d"])
        gen = GenerateConfig(**OmegaConf.to_container(cfg, resolve=True))
        assert abs(sum(gen.mix.values()) - 1.0) < 1e-9
        assert gen.mix["detour"] > 0 and gen.mix["fail"] > 0  # every preset keeps the BC-hurting levels
        assert len(gen.train_tasks) == 6 and len(gen.heldout_tasks) == 3
