"""Shared fixtures."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest

from makerfirst.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at t=1000 s: TTLs take no wall time."""
    return VirtualClock(start=1_000.0)


@pytest.fixture(autouse=True)
def _decimal_context_restored() -> Iterator[None]:
    """Tests that drive a raw ccxt client (the real client against the sim-server) let it change
    the thread's decimal context, as ccxt does; restore it so no later test inherits that. Our own
    adapter contains the change itself (tests/contract/test_ccxt_faults.py checks it)."""
    saved = decimal.getcontext().copy()
    yield
    decimal.setcontext(saved)
