"""The replay driver's fill models on hand-built tapes, and its book against a real capture.

Tape: product X-USD, tick 0.01, lot 1. The book opens at t=100 with bid 0.99 and ask 1.01 (100
lots); our post-only sell of 50 joins the ask at 1.01 at t=101, behind the displayed 100.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerfirst.adapters.sim.exchange import SimulatorSettings
from makerfirst.clock import VirtualClock
from makerfirst.domain.orders import OrderAccepted, OrderRejected, OrderType, PlaceOrder, RejectReason, Side
from makerfirst.domain.product import Product
from makerfirst.replay.book_check import rebuild_check
from makerfirst.replay.driver import FillModel, ReplayExchange, product_tape
from makerfirst.replay.events import (
    ASK,
    BBO,
    BID,
    BUY,
    CLEAR,
    EVENT_DTYPE,
    LEVEL,
    SELL,
    TRADE,
    EventStream,
    ProductScale,
)
from makerfirst.replay.readers import read_capture
from simkit import COINBASE_THIN

X = Product("X-USD", "X", "USD", Decimal("0.01"), Decimal(1), Decimal(1), Decimal(0))
OPEN = [(100.0, CLEAR, 0, 0, 0), (100.0, LEVEL, BID, 99, 500), (100.0, LEVEL, ASK, 101, 100)]
CAPTURE = COINBASE_THIN

Row = tuple[float, int, int, int, int]


def stream(rows: list[Row]) -> EventStream:
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    return EventStream((ProductScale("X-USD", X.price_increment, X.base_increment),), events)


def replay(rows: list[Row], model: FillModel, *, price: str = "1.01", size: int = 50) -> ReplayExchange:
    """Rest our sell at ``price`` at t=101, then play the tape to t=200; return the exchange."""
    clock = VirtualClock(start=101.0)
    settings = SimulatorSettings(request_latency_sec=0.0, cancel_queue_sec=0.0)
    exchange = ReplayExchange(
        clock,
        X,
        product_tape(stream(OPEN + rows), "X-USD"),
        {"X": Decimal(1000)},
        fill_model=model,
        settings=settings,
    )
    exchange.advance()
    command = PlaceOrder(
        "ours", "X-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(size), Decimal(price), 500.0
    )
    answer = asyncio.run(exchange.place_order(command))
    assert isinstance(answer, OrderAccepted)
    clock.advance_to(200.0)
    exchange.advance()
    return exchange


def filled(exchange: ReplayExchange) -> list[tuple[float, Decimal, Decimal]]:
    return [(f.time, f.price, f.size) for f in exchange.all_fills()]


@pytest.mark.parametrize("model", [FillModel.CONSERVATIVE, FillModel.PROBABILISTIC])
def test_queue_ahead_is_used_up_before_we_fill(model: FillModel) -> None:
    # The research note's unit scenario: 100 ahead, buyer trades of 80 then 30 → we fill 10.
    exchange = replay([(102.0, TRADE, BUY, 101, 80), (103.0, TRADE, BUY, 101, 30)], model)
    assert filled(exchange) == [(103.0, Decimal("1.01"), Decimal(10))]


def test_a_touch_without_a_trade_never_fills_under_conservative() -> None:
    touches = [
        (102.0, LEVEL, BID, 101, 40),  # a bid reaches our price: a post-only buyer, no trade
        (103.0, LEVEL, BID, 101, 0),
        (104.0, TRADE, BUY, 101, 99),  # a trade at our price that the queue ahead absorbs
        (105.0, TRADE, SELL, 99, 500),  # sellers hitting the bid do not buy from us
    ]
    exchange = replay(touches, FillModel.CONSERVATIVE)
    assert filled(exchange) == []
    assert exchange.replay_book.queue_ahead(exchange.all_orders()[0].order_id) == 1


def test_no_model_fills_on_a_touch() -> None:
    """A displayed bid reaching our ask is not a buyer: no model fills a resting order without a trade."""
    assert "optimistic" not in {m.value for m in FillModel}
    for model in FillModel:
        bid_touch = replay([(102.0, LEVEL, BID, 101, 5)], model)
        assert filled(bid_touch) == []


def test_conservative_takes_decreases_as_cancels_behind_us_but_never_more_ahead_than_shown() -> None:
    rows = [
        (102.0, LEVEL, ASK, 101, 150),  # 50 join behind us
        (103.0, LEVEL, ASK, 101, 100),  # 50 cancel: assumed to be those behind
        (104.0, LEVEL, ASK, 101, 30),  # 70 more cancel: only 30 can still be ahead
        (105.0, TRADE, BUY, 101, 40),
    ]
    exchange = replay(rows, FillModel.CONSERVATIVE)
    assert filled(exchange) == [(105.0, Decimal("1.01"), Decimal(10))]


def test_probabilistic_splits_an_unexplained_decrease_by_queue_position() -> None:
    rows = [(102.0, LEVEL, ASK, 101, 200), (103.0, LEVEL, ASK, 101, 100)]  # 100 behind, then 100 cancel
    conservative = replay(rows, FillModel.CONSERVATIVE)
    probabilistic = replay(rows, FillModel.PROBABILISTIC)
    assert conservative.replay_book.queue_ahead(conservative.all_orders()[0].order_id) == 100
    # Power 2 with 100 ahead and 100 behind: half of the decrease is taken from ahead.
    assert probabilistic.replay_book.queue_ahead(probabilistic.all_orders()[0].order_id) == 50


def test_a_level_update_and_its_trade_are_counted_once_in_either_order() -> None:
    level_first = [(102.0, LEVEL, ASK, 101, 20), (102.001, TRADE, BUY, 101, 80), (103.0, TRADE, BUY, 101, 30)]
    trade_first = [(102.0, TRADE, BUY, 101, 80), (102.001, LEVEL, ASK, 101, 20), (103.0, TRADE, BUY, 101, 30)]
    for rows in (level_first, trade_first):
        assert filled(replay(rows, FillModel.CONSERVATIVE)) == [(103.0, Decimal("1.01"), Decimal(10))]


def test_a_trade_through_our_price_fills_at_our_limit_up_to_the_trade_size() -> None:
    exchange = replay([(102.0, TRADE, BUY, 103, 30)], FillModel.CONSERVATIVE, price="1.00")
    assert filled(exchange) == [(102.0, Decimal("1.00"), Decimal(30))]


def test_our_ioc_walks_the_displayed_book_and_post_only_crossing_is_rejected() -> None:
    clock = VirtualClock(start=101.0)
    rows = [*OPEN, (100.0, LEVEL, BID, 98, 100)]
    exchange = ReplayExchange(clock, X, product_tape(stream(rows), "X-USD"), {"X": Decimal(1000)})
    exchange.advance()
    ioc = PlaceOrder("ioc", "X-USD", Side.SELL, OrderType.LIMIT_IOC, Decimal(550), Decimal("0.98"))
    assert isinstance(asyncio.run(exchange.place_order(ioc)), OrderAccepted)
    assert sorted((f.price, f.size) for f in exchange.all_fills()) == [
        (Decimal("0.98"), Decimal(50)),
        (Decimal("0.99"), Decimal(500)),
    ]
    crossing = PlaceOrder(
        "po", "X-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(1), Decimal("0.98"), 500.0
    )
    answer = asyncio.run(exchange.place_order(crossing))
    assert isinstance(answer, OrderRejected) and answer.reason is RejectReason.POST_ONLY_WOULD_CROSS


@pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared capture not present")
def test_the_replayed_book_matches_every_venue_ticker_of_the_real_capture(tmp_path: Path) -> None:
    capture = read_capture(CAPTURE / "ws-feed.txt", cache_dir=tmp_path)
    assert rebuild_check(capture).mismatches == 0
    compared = 0
    for scale in capture.products:
        tape = product_tape(capture, scale.product_id)
        product = Product(scale.product_id, "B", "Q", scale.tick, scale.lot, scale.lot, Decimal(0))
        clock = VirtualClock(start=tape.start)
        exchange = ReplayExchange(clock, product, tape, {"B": Decimal(1)})
        clock.advance_to(tape.end)
        exchange.advance()
        check = exchange.replay_book.stats.bbo
        assert check.mismatches == 0
        compared += check.compared
    applicable = (capture.events["kind"] == BBO) & (capture.events["size"] == 1)
    assert compared == int(np.count_nonzero(applicable)) == 69
