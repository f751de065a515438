"""Shared fixtures."""

from __future__ import annotations

import pytest

from makerfirst.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at t=1000 s: TTLs take no wall time."""
    return VirtualClock(start=1_000.0)
