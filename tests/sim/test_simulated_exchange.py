"""The simulated exchange behaves as Coinbase Advanced does for the orders we send."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from makerfirst.adapters.sim.driver import Cancel, MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.clock import VirtualClock
from makerfirst.domain.orders import (
    CancelOutcome,
    Liquidity,
    OrderAccepted,
    OrderRejected,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
)
from simkit import make_exchange

D = Decimal
BOOK = [  # PENGU at 0.014500 / 0.014520: ticks are 1e-6, lots 1
    (1_000.0, PlaceLimit("bid1", Side.BUY, 14_500, 2_000)),
    (1_000.0, PlaceLimit("bid2", Side.BUY, 14_490, 5_000)),
    (1_000.0, PlaceLimit("ask1", Side.SELL, 14_520, 3_000)),
]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def gtd(cid: str, price: str, size: str, end: float, side: Side = Side.SELL) -> PlaceOrder:
    return PlaceOrder(cid, "PENGU-USD", side, OrderType.POST_ONLY_GTD, D(size), D(price), end)


def ioc(cid: str, price: str, size: str, side: Side = Side.SELL) -> PlaceOrder:
    return PlaceOrder(cid, "PENGU-USD", side, OrderType.LIMIT_IOC, D(size), D(price))


def exchange_with(clock: VirtualClock, script: list, **kw):  # type: ignore[no-untyped-def]
    ex = make_exchange(clock, **kw)
    ex.attach_market("PENGU-USD", ScriptedMarket(BOOK + script))
    return ex


def test_post_only_that_would_cross_is_rejected_like_coinbase(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(gtd("c1", "0.014500", "100", 2_000.0)))
    assert isinstance(answer, OrderRejected)
    assert answer.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert answer.reason.value == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert ex.all_orders() == []  # a synchronous reject creates no order


def test_our_order_queues_behind_the_size_already_at_its_price(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [(1_010.0, MarketOrder("t1", Side.BUY, 3_500))])
    answer = run(ex.place_order(gtd("c1", "0.014520", "1000", 2_000.0)))
    assert isinstance(answer, OrderAccepted)
    assert ex.engine("PENGU-USD").queue_ahead(answer.order_id) == 3_000
    clock.advance_to(1_011.0)
    report = run(ex.get_order(answer.order_id))
    assert report.filled_size == D(500)  # 3,000 ahead of us were filled first
    assert report.status is OrderStatus.OPEN


def test_maker_fill_pays_maker_fee_and_moves_balances(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [(1_010.0, MarketOrder("t1", Side.BUY, 100))])
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 2_000.0)))
    assert isinstance(answer, OrderAccepted)
    clock.advance_to(1_011.0)
    report = run(ex.get_order(answer.order_id))
    fills = run(ex.list_fills(answer.order_id))
    assert report.status is OrderStatus.FILLED
    assert [f.liquidity for f in fills] == [Liquidity.MAKER]
    assert report.total_fees == D("1.451") * D("0.006")
    balances = run(ex.get_balances())
    assert balances["PENGU"] == D(9_900)
    assert balances["USD"] == D(1000) + D("1.451") * (1 - D("0.006"))
    assert ex.held() == {}


def test_limit_ioc_fills_down_to_its_limit_and_cancels_the_rest(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(ioc("c1", "0.014495", "3000")))
    assert isinstance(answer, OrderAccepted)
    report = run(ex.get_order(answer.order_id))
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_size == D(2_000)  # 0.014490 is below the limit
    fills = run(ex.list_fills(answer.order_id))
    assert {f.liquidity for f in fills} == {Liquidity.TAKER}
    assert report.total_fees == D("2000") * D("0.0145") * D("0.012")
    assert run(ex.get_balances())["PENGU"] == D(8_000)


def test_gtd_order_expires_at_end_time_and_releases_its_hold(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 1_025.0)))
    assert isinstance(answer, OrderAccepted)
    assert run(ex.get_balances())["PENGU"] == D(9_900)
    clock.advance_to(1_024.9)
    assert run(ex.get_order(answer.order_id)).status is OrderStatus.OPEN
    clock.advance_to(1_025.0)
    assert run(ex.get_order(answer.order_id)).status is OrderStatus.EXPIRED
    assert run(ex.get_balances())["PENGU"] == D(10_000)
    assert ex.engine("PENGU-USD").resting(answer.order_id) is None


@pytest.mark.parametrize(
    ("size", "price", "reason"),
    [
        ("10.5", "0.014510", RejectReason.INVALID_SIZE_PRECISION),
        ("100", "0.0145105", RejectReason.INVALID_PRICE_PRECISION),
        ("50", "0.014510", RejectReason.NOTIONAL_TOO_SMALL),  # $0.73 < quote_min_size $1
        ("20000", "0.014510", RejectReason.INSUFFICIENT_FUND),
    ],
)
def test_increments_minimums_and_funds_are_enforced(
    clock: VirtualClock, size: str, price: str, reason: RejectReason
) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(gtd("c1", price, size, 2_000.0)))
    assert isinstance(answer, OrderRejected) and answer.reason is reason


def test_gtd_end_time_in_the_past_is_rejected(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 999.0)))
    assert isinstance(answer, OrderRejected) and answer.reason is RejectReason.END_TIME_IN_PAST


def test_reused_client_order_id_returns_the_original_order(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    first = run(ex.place_order(gtd("same", "0.014510", "100", 2_000.0)))
    again = run(ex.place_order(gtd("same", "0.014511", "200", 2_000.0)))
    assert isinstance(first, OrderAccepted) and isinstance(again, OrderAccepted)
    assert again.order_id == first.order_id
    assert len(ex.all_orders()) == 1


def test_fill_that_races_a_queued_cancel_is_kept(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [(1_010.01, MarketOrder("t1", Side.BUY, 60))], cancel_queue=0.05)
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 2_000.0)))
    assert isinstance(answer, OrderAccepted)
    clock.advance_to(1_010.0)
    [result] = run(ex.cancel_orders([answer.order_id]))
    assert result.outcome is CancelOutcome.ACCEPTED
    assert run(ex.get_order(answer.order_id)).status is OrderStatus.CANCEL_QUEUED
    clock.advance_to(1_010.1)
    final = run(ex.get_order(answer.order_id))
    assert final.status is OrderStatus.CANCELLED
    assert final.filled_size == D(60)
    assert run(ex.get_balances())["PENGU"] == D(9_940)


def test_cancel_of_a_filled_or_unknown_order_says_so(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [(1_001.0, MarketOrder("t1", Side.BUY, 100))])
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 2_000.0)))
    assert isinstance(answer, OrderAccepted)
    clock.advance_to(1_002.0)
    results = run(ex.cancel_orders([answer.order_id, "nope"]))
    assert [r.outcome for r in results] == [CancelOutcome.ALREADY_FILLED, CancelOutcome.UNKNOWN_ORDER]


def test_request_latency_lets_the_market_move_before_the_order_arrives(clock: VirtualClock) -> None:
    # The bid steps up to our price while the request travels: the post-only is then rejected.
    ex = exchange_with(
        clock,
        [(1_000.07, PlaceLimit("bid3", Side.BUY, 14_510, 100)), (1_000.08, Cancel("bid1"))],
        latency=0.05,
    )
    book = run(ex.get_order_book("PENGU-USD"))
    assert book.best_bid == D("0.0145")
    answer = run(ex.place_order(gtd("c1", "0.014510", "100", 2_000.0)))
    assert isinstance(answer, OrderRejected) and answer.reason is RejectReason.POST_ONLY_WOULD_CROSS


def test_orders_can_be_found_by_client_id(clock: VirtualClock) -> None:
    ex = exchange_with(clock, [])
    answer = run(ex.place_order(gtd("mine", "0.014510", "100", 2_000.0)))
    assert isinstance(answer, OrderAccepted)
    found = run(ex.find_order_by_client_id("mine"))
    assert found is not None and found.order_id == answer.order_id
    assert run(ex.find_order_by_client_id("never-sent")) is None
