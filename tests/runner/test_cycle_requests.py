"""The cycle's request count is what went to the venue over REST, streaming or polling (issue 12).

Real parts: the sim-server on 127.0.0.1 (REST and its WebSocket feed, in a thread), the ccxt
adapter, the feed client and the streaming adapter as ``makerfirst run --stream`` builds them, a
SQLite file. The server counts every HTTP request it is asked; the bot's count is compared with it
at the moment the cycle is recorded, one purge run from start to end inside the cycle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.bootstrap import build_runner, build_streaming_exchange, open_store
from makerfirst.clock import SystemClock
from makerfirst.domain.records import CycleRecord, HoldingSnapshot
from makerfirst.policy import load_policy
from makerfirst.ports import ExchangePort
from makerfirst.runner.metered import MeteredExchange

PURGE = [
    "purge=[PENGU]",
    "portfolio_management.purge_execution.maker_first_ttl_sec=1",
    "portfolio_management.purge_execution.maker_retry_ttl_sec=1",
]
CYCLE_SEC = 6.0  # the purge (two 1 s maker attempts, then the IOC) ends well inside it


@dataclass
class Cycle:
    record: CycleRecord
    served: int  # HTTP requests the server had been asked when the cycle was recorded
    answered_by_stream: int | None
    loops_done: int  # sell loops that had ended when the cycle was recorded
    port_calls: int  # calls of the exchange port the bot had made by then


class PortCalls:
    """Counts every call of the exchange port made on ``inner`` (a test-only wrapper)."""

    def __init__(self, inner: ExchangePort) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name.startswith("_") or not asyncio.iscoroutinefunction(attribute):
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await attribute(*args, **kwargs)

        return counted


def _count_requests(server: ServerHandle) -> list[str]:
    """Every HTTP request the server is asked (the server keeps no request log)."""
    seen: list[str] = []
    serve = server.backend._serve

    async def counted(request: Any, access: Any, handler: Any) -> Any:
        seen.append(f"{request.method} {request.url.path}")
        return await serve(request, access, handler)

    server.backend._serve = counted  # type: ignore[method-assign]
    return seen


@asynccontextmanager
async def _venue(server: ServerHandle, clock: SystemClock, *, stream: bool) -> AsyncIterator[ExchangePort]:
    credentials = load_credentials(server.credentials_path)
    async with CcxtExchange(clock=clock, credentials=credentials, api_url=server.url) as rest:
        if not stream:
            yield rest
            return
        streaming = build_streaming_exchange(rest, server.ws_url, server.credentials_path, clock, [])
        try:
            yield streaming
        finally:
            await streaming.close()  # type: ignore[attr-defined]


def _one_purge_cycle(tmp_path: Path, *, stream: bool) -> Cycle:
    """One cycle holding a whole purge run, as recorded."""
    cycles: list[Cycle] = []

    async def run(server: ServerHandle, served: list[str]) -> None:
        clock = SystemClock()
        store = open_store(f"sqlite:///{tmp_path}/{'stream' if stream else 'poll'}.db")
        async with _venue(server, clock, stream=stream) as exchange:
            calls = PortCalls(exchange)
            runner = build_runner(calls, clock, load_policy(None, PURGE), store)  # type: ignore[arg-type]
            metered: MeteredExchange = runner._exchange
            record_cycle = store.record_cycle

            def recorded(record: CycleRecord, holdings: list[HoldingSnapshot]) -> None:
                cycles.append(
                    Cycle(record, len(served), metered.answered_by_stream, len(runner._reports), calls.calls)
                )
                record_cycle(record, holdings)

            store.record_cycle = recorded  # type: ignore[method-assign]
            await runner.run(1, CYCLE_SEC)
        assert [r.outcome for r in store.runs()] == ["complete"]
        store.close()

    with running_server(market="dead", balances={"PENGU": "1116", "USD": "100"}) as server:
        served = _count_requests(server)
        started = time.time()
        asyncio.run(run(server, served))
    assert len(cycles) == 1 and cycles[0].record.started_at >= started
    assert cycles[0].loops_done == 1  # the purge ran inside the cycle: nothing was in flight at its end
    return cycles[0]


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])
def test_the_cycle_counts_the_requests_the_server_was_asked(tmp_path: Path, stream: bool) -> None:
    cycle = _one_purge_cycle(tmp_path, stream=stream)
    port_calls = cycle.port_calls
    requests = cycle.record.requests
    # Each REST call the bot makes is at least one HTTP request, and ccxt reads its market list on
    # top: the server was asked at least as many. Before issue 12 the streaming count was the port
    # calls (36 here against the server's 16).
    assert 0 < requests <= cycle.served
    assert cycle.record.io_sec > 0
    if stream:
        assert cycle.answered_by_stream is not None and cycle.answered_by_stream > 0
        assert requests + cycle.answered_by_stream <= port_calls  # what the stream answered is no request
    else:
        assert cycle.answered_by_stream is None
        assert requests == port_calls  # polling: every call is a request
