"""Shared fixtures."""

from __future__ import annotations

import decimal
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state database per test: a real SQLite file, and PostgreSQL (a clean schema) when
    MAKERFIRST_TEST_PG_URL is set (CI sets it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'makerfirst.db'}"
    url = os.environ.get("MAKERFIRST_TEST_PG_URL")
    if not url:
        pytest.skip("MAKERFIRST_TEST_PG_URL is not set (CI sets it)")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url
