"""Helpers for the ccxt adapter's fault tests: an adapter on a sim server, faults switched on later."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from exchange_venues import BALANCES

from makerfirst.adapters.ccxt_exchange import ApiCredentials, CcxtExchange, RetryPolicy, load_credentials
from makerfirst.clock import SystemClock

testing = pytest.importorskip("makerfirst.adapters.sim_server.testing")
faults = pytest.importorskip("makerfirst.adapters.sim_server.faults")

FaultPlan = faults.FaultPlan
Trigger = faults.Trigger
ErrorBody = faults.ErrorBody
ServerHandle = testing.ServerHandle

# Real time: keep backoff short so a handful of retries costs a fraction of a second.
FAST_RETRY = RetryPolicy(base_delay_sec=0.02, max_delay_sec=0.2, rate_limit_attempts=5, transient_attempts=3)


@asynccontextmanager
async def adapter_on_server(
    *,
    plan: Any = None,
    retry: RetryPolicy = FAST_RETRY,
    timeout_sec: float = 2.0,
    credentials: ApiCredentials | None = None,
) -> AsyncIterator[tuple[CcxtExchange, Any]]:
    """A fresh server (optionally with a fault plan from the start) and an adapter pointed at it."""
    with testing.running_server(balances=BALANCES, faults=plan) as server:
        creds = credentials or load_credentials(server.credentials_path)
        exchange = CcxtExchange(
            clock=SystemClock(),
            api_url=server.url,
            credentials=creds,
            timeout_sec=timeout_sec,
            retry=retry,
            seed=1,
        )
        async with exchange:
            yield exchange, server


def inject(server: Any, plan: Any) -> None:
    """Switch the running server to ``plan`` from its next request on (after warm-up calls).

    Uses the backend's public ``faults`` attribute: the plan passed to ``running_server`` would
    also hit the requests ccxt makes while loading markets.
    """
    server.backend.faults = faults.FaultInjector(plan)


def events(records: list[logging.LogRecord], event: str) -> list[logging.LogRecord]:
    return [r for r in records if getattr(r, "event", None) == event]


def orders_with_client_id(server: Any, client_order_id: str) -> list[dict[str, Any]]:
    return [o for o in server.audit()["orders"] if o["client_order_id"] == client_order_id]


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
