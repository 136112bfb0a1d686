"""Shared fixtures. Hypothesis runs a bounded profile in CI to keep the suite fast."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from hashmatch import kernel

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(
    params=[name for name in kernel.available_kernels() if name != "numpy"], scope="module"
)
def variant(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each compiled kernel variant this machine can run, selected for the test's module."""
    previous = kernel.set_kernel(request.param)
    yield request.param
    kernel.set_kernel(previous)
