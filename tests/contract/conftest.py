"""Fixtures of the exchange contract suite: every case runs once per implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from exchange_venues import CCXT, IMPLEMENTATIONS, Venue, open_venue


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=IMPLEMENTATIONS)
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    if request.param == CCXT:
        pytest.importorskip("makerfirst.adapters.sim_server.testing")
    async with open_venue(request.param) as opened:
        yield opened
