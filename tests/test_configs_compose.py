"""Every experiment and reproduce preset composes (what ``--cfg job`` prints) with its optimizer and scheduler
partials instantiable; experiment run names equal their file names; the dataset command composes every dataset
option into a valid generation config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rabc.app.reproduce import register_configs
from rabc.data.generate import GenerateConfig
from rabc.lit.module import linear_warmup
from tests.conftest import compose_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
PRESETS = sorted(p.stem for p in (CONFIGS / "reproduce").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONFIGS / "dataset").glob("*.yaml"))


def _compose(name: str, overrides: list[str]):
    register_configs()  # the reproduce command's `size` group, one option per preset file
    return compose_config(name, overrides)


def _check_train_cfg(cfg) -> None:
    OmegaConf.to_yaml(cfg, resolve=True)  # what `--cfg job --resolve` prints: every interpolation resolves
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = instantiate(cfg.optimizer)(params)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["lr"] == cfg.optimizer.lr
    assert optimizer.defaults["weight_decay"] == cfg.optimizer.weight_decay
    if cfg.scheduler is not None:
        scheduler = instantiate(cfg.scheduler)(optimizer)
        assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)


def test_experiments_and_presets_found():
    assert len(EXPERIMENTS) >= 8 and {"smoke", "main"} <= set(PRESETS)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes(experiment):
    cfg = _compose("train", [f"experiment={experiment}"])
    assert cfg.name == experiment  # the run directory is named after the experiment
    _check_train_cfg(cfg)
    assert (cfg.scheduler is not None) == experiment.startswith("diffusion")  # Diffusion warms up


def test_default_job_composes_with_constant_lr():
    cfg = _compose("train", [])
    assert cfg.scheduler is None and cfg.ema_decay is None
    _check_train_cfg(cfg)


@pytest.mark.parametrize("preset", PRESETS)
def test_reproduce_preset_composes_with_its_train_runs(preset):
    cfg = _compose("reproduce", [f"size={preset}"])
    assert cfg.preset == preset
    OmegaConf.to_yaml(cfg, resolve=True)
    GenerateConfig(**OmegaConf.to_container(cfg.dataset, resolve=True))
    for scheme in cfg.schemes:
        train_cfg = _compose("train", [*cfg.train_overrides, f"weighting={scheme}", "dataset.root=x"])
        assert train_cfg.weighting.name == scheme
        _check_train_cfg(train_cfg)


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_command_composes_every_dataset(dataset):
    cfg = _compose("make_dataset", [f"dataset={dataset}", "dataset/mix=adverse"])
    gen = GenerateConfig(**OmegaConf.to_container(cfg.dataset, resolve=True))
    assert gen.root == cfg.dataset.root
    if dataset == "full":
        assert gen.episodes_per_task == 50 and gen.root.endswith("_full")


def test_linear_warmup_matches_its_formula():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = linear_warmup(opt, warmup_steps=4)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    torch.testing.assert_close(
        torch.tensor(lrs), 0.5 * torch.tensor([min(1.0, (s + 1) / 4) for s in range(7)])
    )
    with pytest.raises(ValueError, match="warmup_steps"):
        linear_warmup(opt, warmup_steps=0)
