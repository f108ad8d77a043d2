"""Test-wide settings: strictly offline, headless rendering, few threads (CI has 2 cores)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def compose_config(
    name: str, overrides=(), *, config_dir: str | Path = CONFIGS, version_base: str | None = "1.3"
):
    """``configs/<name>.yaml`` composed with ``overrides`` as the command composes it (train's structured
    schema registered); ``config_dir`` for a sub-directory's configs."""
    from hydra import compose, initialize_config_dir

    from rabc.lit.config import register

    register()
    with initialize_config_dir(config_dir=str(config_dir), version_base=version_base):
        return compose(name, overrides=list(overrides))


@pytest.fixture
def compose_cfg():
    """``compose_cfg(name, overrides)``: see :func:`compose_config`."""
    return compose_config


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """One tiny generated dataset per test session (real Meta-World demos, real LeRobot v3 files):
    push-v3 + drawer-open-v3 × (clean, detour, fail) + one held-out drawer-close-v3 episode, 32×32 video."""
    from rabc.data import make_tiny_dataset

    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "ds")
