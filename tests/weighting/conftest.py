"""Fixtures for the weighting tests."""

from __future__ import annotations

import pytest

from rabc.progress import ProgressTable
from tests.weighting.synth import synth_progress


@pytest.fixture
def progress_table() -> ProgressTable:
    return synth_progress([30, 45, 12, 60, 1, 25], seed=1)
