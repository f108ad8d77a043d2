"""One tiny generated dataset per test session (real Meta-World demos, real LeRobot v3 files)."""

from __future__ import annotations

import pytest

from rabc.data import make_tiny_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """push-v3 + drawer-open-v3 × (clean, detour, fail) + one held-out drawer-close-v3 episode, 32×32 video."""
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "ds")
