"""Top-of-book tracking: a resting maker order is re-placed when it stops being the best ask,
confirmed terminal first, within its replace budget and minimum rest; the ladder and the taker
fallback around it stay the design note's."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from makerfirst.adapters.sim.driver import Action, Cancel, MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.algorithms import tob
from makerfirst.algorithms.sell_policies import TopOfBook
from makerfirst.algorithms.twap import Outcome
from makerfirst.clock import VirtualClock
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import OrderStatus, OrderType, Side
from makerfirst.execution.engine import AttemptKind, ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from simkit import PENGU, make_exchange, policy_with

D = Decimal
TICK = D("0.000001")
QUIET_BOOK: list[tuple[float, Action]] = [
    (1_000.0, PlaceLimit("bid", Side.BUY, 14_500, 100_000)),
    (1_000.0, PlaceLimit("ask", Side.SELL, 14_530, 100_000)),
]


def run_tob(clock: VirtualClock, script: list[tuple[float, Action]], tracking: tob.Tracking) -> TwapReport:
    exchange = make_exchange(clock, {"PENGU": "1116", "USD": "0"}, latency=0.05)
    exchange.attach_market("PENGU-USD", ScriptedMarket(QUIET_BOOK + script))
    engine = ExecutionEngine(exchange, clock, policy_with(), ClientOrderIds(7))
    loop = TwapLoop(engine, exchange, clock, policy=TopOfBook(tracking))
    intent = TradeIntent("PENGU-USD", SizeBase(D(1116)), Purpose.PURGE)
    return asyncio.run(loop.run(intent))


def book(bid: str, ask: str) -> OrderBook:
    return OrderBook("PENGU-USD", (Level(D(bid), D(10)),), (Level(D(ask), D(10)),), 0.0)


def test_a_sell_is_displaced_by_a_better_ask_or_a_higher_bid_only() -> None:
    resting = D("0.014501")  # bid + 1 tick when placed
    assert not tob.displaced(book("0.014500", "0.014501"), Side.SELL, resting, 1, PENGU)
    assert tob.displaced(book("0.014490", "0.014495"), Side.SELL, resting, 1, PENGU)  # undercut
    # The bid rose: bid + cushion (2 ticks) is now above our price, without crossing.
    assert tob.displaced(book("0.014500", "0.014530"), Side.SELL, D("0.014501"), 2, PENGU)
    # A bid that fell alone leaves us the best ask: not displaced (we keep our queue place).
    assert not tob.displaced(book("0.014400", "0.014530"), Side.SELL, resting, 1, PENGU)
    buy = D("0.014520")
    assert tob.displaced(book("0.014525", "0.014530"), Side.BUY, buy, 1, PENGU)
    assert not tob.displaced(book("0.014520", "0.014530"), Side.BUY, buy, 1, PENGU)


def test_an_undercut_order_is_cancelled_confirmed_and_replaced_above_the_bid(clock: VirtualClock) -> None:
    # At t=1005 the bid drops to 0.014490 and a rival asks 0.014495, under our 0.014501.
    moves: list[tuple[float, Action]] = [
        (1_005.0, PlaceLimit("low_bid", Side.BUY, 14_490, 100_000)),
        (1_005.0, Cancel("bid")),
        (1_005.0, PlaceLimit("rival", Side.SELL, 14_495, 1_000)),
        (1_012.0, MarketOrder("buyer", Side.BUY, 5_000)),
    ]
    report = run_tob(clock, moves, tob.Tracking(max_replaces=3, min_rest_sec=2.0, check_sec=1.0))
    makers = [a for a in report.attempts if a.kind is AttemptKind.MAKER]
    first, second = makers[0], makers[1]
    assert first.price == D("0.014501") and first.final_status is OrderStatus.CANCELLED
    assert first.ended_at < 1_000.0 + 25  # it left long before its 25 s TTL
    assert second.started_at >= first.ended_at  # the old order was terminal before the new one
    # Re-priced from the fresh book: bid + 1 tick, never crossing; the buyer at t=1012 takes the
    # rival's 1000 first (better price), then ours.
    assert second.price == D("0.014491") and second.price > second.book.best_bid
    assert report.outcome is Outcome.COMPLETE
    assert all(a.order_type is OrderType.POST_ONLY_GTD for a in makers)


def test_replaces_stay_within_the_budget_and_the_minimum_rest(clock: VirtualClock) -> None:
    # A rival undercuts by one tick every half second while the bid steps down: we are displaced
    # at every check; the budget and the minimum rest bound what we do about it.
    chase: list[tuple[float, Action]] = []
    for i in range(1, 200):
        t = 1_000.0 + 0.5 * i
        chase += [
            (t, PlaceLimit(f"bid{i}", Side.BUY, 14_500 - 2 * i, 100_000)),
            (t, Cancel("bid" if i == 1 else f"bid{i - 1}")),
            (t, PlaceLimit(f"rival{i}", Side.SELL, 14_501 - 2 * i, 10)),
        ]
    tracking = tob.Tracking(max_replaces=4, min_rest_sec=3.0, check_sec=0.5)
    report = run_tob(clock, chase, tracking)
    makers = [a for a in report.attempts if a.kind is AttemptKind.MAKER]
    # Two attempts (25 s, 20 s) of at most 1 + 4 orders each, then the design note's taker.
    starts = [a.started_at for a in makers]
    assert len(makers) <= 2 * (1 + tracking.max_replaces)
    assert len(makers) > 2  # it did track
    early = [a for a in makers if a.ttl_sec is not None and a.ended_at < a.started_at + a.ttl_sec]
    assert all(a.ended_at - a.started_at >= tracking.min_rest_sec for a in early)
    assert all(b - a >= tracking.min_rest_sec for a, b in itertools.pairwise(starts))
    assert len(early) <= 2 * tracking.max_replaces
    assert report.attempts[-1].kind is AttemptKind.TAKER  # the fallback stays as it was
    for a in makers:
        assert a.price is not None and a.price > a.book.best_bid  # never crossing
