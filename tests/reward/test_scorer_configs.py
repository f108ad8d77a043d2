"""Every scorer config composes, names only TopRewardScorer arguments, and the tiny one instantiates."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rabc.reward import TopRewardScorer

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "scorer").glob("topreward_*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_keys_are_constructor_arguments(path):
    cfg = OmegaConf.load(path)
    assert cfg._target_ == "rabc.reward.TopRewardScorer" and cfg.name == path.stem
    params = set(inspect.signature(TopRewardScorer.__init__).parameters) - {"self"}
    assert set(cfg.keys()) - {"_target_", "name"} <= params


def test_tiny_config_instantiates(tiny_vlm_dir):
    cfg = OmegaConf.load(CONFIGS[[p.stem for p in CONFIGS].index("topreward_tiny")])
    cfg.model = str(tiny_vlm_dir)
    cfg.pop("name")
    scorer = instantiate(cfg)
    assert isinstance(scorer, TopRewardScorer) and scorer.prefix_cache and scorer.num_anchors == 15
