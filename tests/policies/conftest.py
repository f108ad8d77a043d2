"""Fixtures for the policy adapter tests."""

import pytest

from tests.policies.tiny import build


@pytest.fixture(params=["act", "diffusion"])
def tiny(request):
    """(adapter, preprocessor, postprocessor) for each tiny policy."""
    return build(request.param)
