"""A GTD create retried after 429 backoffs carries an end time counted from that send, so a
throttled create is never refused END_TIME_IS_IN_THE_PAST (the sim server checks it as Coinbase does)."""

from __future__ import annotations

import pytest
from ccxt_fault_kit import FaultPlan, Trigger, adapter_on_server, events, inject
from exchange_venues import PRODUCT_ID, post_only_sell, ticks

from makerfirst.adapters.ccxt_exchange import RetryPolicy
from makerfirst.clock import SystemClock
from makerfirst.domain.orders import OrderAccepted

pytestmark = pytest.mark.anyio

# Three throttles back off 3 × 0.4 s: longer than the order's whole 0.8 s life as first decided.
SLOW_BACKOFF = RetryPolicy(base_delay_sec=0.4, max_delay_sec=0.4, rate_limit_attempts=5, jitter=0.0)


async def test_a_create_resent_after_429_backoff_gets_a_fresh_end_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    async with adapter_on_server(retry=SLOW_BACKOFF) as (exchange, server):
        book = await exchange.get_order_book(PRODUCT_ID)
        inject(server, FaultPlan(rate_429=Trigger.first(3)))
        decided_end = SystemClock().now() + 0.8
        command = post_only_sell("gtd-after-429", book.best_ask + ticks(20), "100", decided_end)
        answer = await exchange.place_order(command)
        assert isinstance(answer, OrderAccepted), answer  # not END_TIME_IS_IN_THE_PAST
        report = await exchange.get_order(answer.order_id)
        await exchange.cancel_orders([answer.order_id])
    assert len(events(caplog.records, "request_retry")) == 3
    assert report.end_time is not None and report.end_time >= decided_end + 1.0  # moved with the sends
