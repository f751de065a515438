"""Nothing lost: an order's terminal report and its fills land together, or the order stays open in
the journal for reconciliation; terminal orders missing fills are revisited until they agree.

The paper exchange on a virtual clock, a real SQLite file (and PostgreSQL when CI sets it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.bootstrap import build_paper_exchange, build_runner, open_store
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import ExchangeError
from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import Fill, OrderAccepted, OrderReport, OrderType, PlaceOrder, Side
from makerfirst.execution.reconcile import Reconciler
from makerfirst.persistence.store import SqlStore
from simkit import policy_with

PURGE_BOTH = ("purge=[PENGU, ZK]",)
HELD = {"PENGU": Decimal(1116), "ZK": Decimal(400), "USD": Decimal(100)}


def paper(clock: VirtualClock) -> SimulatedExchange:
    return build_paper_exchange(
        catalogue=load_catalogue(), clock=clock, market="dead", seed=1, balances=dict(HELD)
    )


class ProcessKilled(BaseException):
    """Stands for SIGKILL: nothing catches it, nothing after it runs."""


class KilledWritingFills:
    """The store, killed the first time it is asked to write fills: the moment between the
    terminal report and the fills that used to be two transactions."""

    def __init__(self, inner: SqlStore) -> None:
        self._inner = inner
        self.killed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _die_on(self, fills: Sequence[Fill]) -> None:
        if fills and not self.killed:
            self.killed = True
            raise ProcessKilled

    def record_report(self, report: OrderReport, fills: Sequence[Fill] = ()) -> None:
        self._die_on(fills)
        if fills:
            self._inner.record_report(report, fills)
        else:
            self._inner.record_report(report)

    def record_fills(self, fills: Sequence[Fill]) -> None:
        self._die_on(fills)
        self._inner.record_fills(list(fills))


class FillsReadFails:
    """The paper exchange whose fills endpoint fails the first ``failures`` reads (past retries)."""

    def __init__(self, inner: SimulatedExchange, failures: int) -> None:
        self._inner = inner
        self.left = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def list_fills(self, order_id: str) -> list[Fill]:
        if self.left > 0:
            self.left -= 1
            raise ExchangeError("503 on /orders/historical/fills (still, after retries)")
        return await self._inner.list_fills(order_id)


def assert_every_fill_journaled_once(exchange: SimulatedExchange, store: SqlStore) -> None:
    venue = sorted((f.order_id, f.trade_id, f.size) for f in exchange.all_fills())
    journal = sorted((f.order_id, f.trade_id, f.size) for f in store.all_fills())
    assert venue and journal == venue  # nothing lost, nothing doubled
    rows = {o.order_id: o for o in store.all_orders()}
    for order in exchange.all_orders():
        row = rows[order.order_id]
        assert (row.status, row.filled_size) == (order.status, order.filled_size)
        assert row.fills_settled
    assert store.open_orders() == [] and store.unsettled_orders() == []
    assert sum(f.size for f in exchange.all_fills()) == HELD["PENGU"] + HELD["ZK"]  # sold once


def run_until_killed(exchange: Any, clock: VirtualClock, store: KilledWritingFills) -> None:
    runner = build_runner(exchange, clock, policy_with(*PURGE_BOTH), store)  # type: ignore[arg-type]
    with pytest.raises(BaseExceptionGroup) as died:  # the runner's TaskGroup wraps it
        asyncio.run(runner.run(cycles=3, cycle_sec=60))
    assert died.group_contains(ProcessKilled) and store.killed


def test_killed_while_journaling_fills_the_restart_records_them_all_once(store_url: str) -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, store = paper(clock), open_store(store_url)
    run_until_killed(exchange, clock, KilledWritingFills(store))

    restarted = build_runner(exchange, clock, policy_with(*PURGE_BOTH), open_store(store_url))
    asyncio.run(restarted.run(cycles=2, cycle_sec=60))

    assert_every_fill_journaled_once(exchange, open_store(store_url))


def test_fills_read_failing_during_the_restarts_reconcile_lands_later(store_url: str) -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, store = paper(clock), open_store(store_url)
    run_until_killed(exchange, clock, KilledWritingFills(store))

    venue = FillsReadFails(exchange, failures=3)
    restarted = build_runner(venue, clock, policy_with(*PURGE_BOTH), open_store(store_url))  # type: ignore[arg-type]
    asyncio.run(restarted.run(cycles=3, cycle_sec=60))

    assert venue.left == 0  # the reads did fail, during the restart
    assert_every_fill_journaled_once(exchange, open_store(store_url))


async def filled_ioc(exchange: SimulatedExchange, store: SqlStore, cid: str) -> OrderReport:
    book = await exchange.get_order_book("PENGU-USD")
    product = await exchange.get_product("PENGU-USD")
    limit = product.price_floor(book.best_bid * Decimal("0.9"))  # through the touch: it takes the bids
    command = PlaceOrder(cid, "PENGU-USD", Side.SELL, OrderType.LIMIT_IOC, Decimal(500), limit)
    store.record_intent(command, Purpose.PURGE, 1_000.0, None)
    answer = await exchange.place_order(command)
    assert isinstance(answer, OrderAccepted)
    store.record_accepted(cid, answer.order_id)
    report = await exchange.get_order(answer.order_id)
    assert report.status.is_terminal and report.filled_size > 0
    return report


def test_a_terminal_order_recorded_without_its_fills_is_revisited_until_they_agree(store_url: str) -> None:
    """What an earlier release left behind (or a fills listing that lagged): FILLED, no fills."""
    clock = VirtualClock(start=1_000.0)
    exchange, store = paper(clock), open_store(store_url)

    async def scenario() -> None:
        report = await filled_ioc(exchange, store, "purge_lost_fills")
        store.record_report(report)  # the terminal report, its fills never written
        assert store.open_orders() == []
        assert [o.client_order_id for o in store.unsettled_orders()] == ["purge_lost_fills"]

        venue = FillsReadFails(exchange, failures=1)
        reconciler = Reconciler(venue, store, clock)  # type: ignore[arg-type]
        with pytest.raises(ExchangeError):
            await reconciler.reconcile()  # the first pass cannot read the fills
        assert store.all_fills() == []
        assert (await reconciler.reconcile()).settled == 1
        assert (await reconciler.reconcile()).changes == 0  # idempotent once they agree

    asyncio.run(scenario())
    assert sorted(f.trade_id for f in store.all_fills()) == sorted(f.trade_id for f in exchange.all_fills())
    assert store.unsettled_orders() == []


def test_an_unsettled_order_the_venue_no_longer_knows_does_not_block_reconciliation(store_url: str) -> None:
    """A paper world started afresh knows none of the old orders: reconciliation goes on."""
    clock = VirtualClock(start=1_000.0)
    old_world, store = paper(clock), open_store(store_url)

    async def scenario() -> None:
        report = await filled_ioc(old_world, store, "purge_old_world")
        store.record_report(report)  # its fills never written
        new_world = paper(clock)
        result = await Reconciler(new_world, store, clock).reconcile()
        assert result.settled == 0

    asyncio.run(scenario())
    assert [o.client_order_id for o in store.unsettled_orders()] == ["purge_old_world"]
