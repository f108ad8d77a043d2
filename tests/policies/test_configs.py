"""configs/policy/*.yaml: every key is a make_policy argument; the CPU configs build and take a training step; the
full-size configs are deltas over the CPU ones (Hydra defaults list)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from rabc.policies import build_config, make_policy
from tests.conftest import compose_config
from tests.policies.tiny import features, make_batch, stats

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "policy"


def _load(stem: str) -> tuple[str, dict]:
    cfg = OmegaConf.to_container(compose_config(stem, config_dir=CONFIG_DIR), resolve=True)
    assert isinstance(cfg, dict)
    return cfg.pop("name"), cfg


@pytest.mark.parametrize(("full", "base"), [("act_full", "act"), ("diffusion_full", "diffusion")])
def test_full_configs_inherit_from_the_cpu_ones(full, base):
    assert OmegaConf.load(CONFIG_DIR / f"{full}.yaml").defaults == [base, "_self_"]
    name, cfg = _load(full)
    base_name, base_cfg = _load(base)
    assert name == base_name and set(cfg) >= set(base_cfg)
    assert cfg["chunk_size"] > base_cfg["chunk_size"]


def test_config_files_present():
    assert {p.stem for p in CONFIG_DIR.glob("*.yaml")} >= {"act", "act_full", "diffusion", "diffusion_full"}


@pytest.mark.parametrize("stem", ["act_full", "diffusion_full"])
def test_full_configs_validate(stem):
    name, cfg = _load(stem)
    inputs, outputs = features()
    lerobot_cfg = build_config(name, input_features=inputs, output_features=outputs, **cfg)
    assert lerobot_cfg.type == name
    assert lerobot_cfg.pretrained_backbone_weights is None


@pytest.mark.parametrize("stem", ["act", "diffusion"])
def test_cpu_configs_train_one_step(stem):
    name, cfg = _load(stem)
    inputs, outputs = features()
    adapter, _, _ = make_policy(
        name, input_features=inputs, output_features=outputs, dataset_stats=stats(), **cfg
    )
    assert adapter.chunk_size == cfg["chunk_size"] == 16
    assert adapter.config.device == "cpu" or torch.cuda.is_available()
    if name == "diffusion":
        assert adapter.config.down_dims == (64, 128, 256)
    opt = torch.optim.AdamW(adapter.parameters(), lr=1e-4)
    batch = {k: v.to(adapter.config.device) for k, v in make_batch(adapter, batch_size=4).items()}
    loss = adapter.compute_loss(batch)
    assert loss.shape == (4,)
    loss.mean().backward()
    opt.step()
