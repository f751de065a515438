"""A policy subscribes to a book condition and the replay venue wakes it when the tape brings it about.

``tob`` re-prices a resting sell when it is displaced (another ask below it, or a bid that moved up
so best bid + cushion prices higher). It reads the book on its timer (``Tracking.check_sec``);
on a replay venue it also asks to be woken when the condition occurs (``BookWakeups``), so it
acts at that row's time, not at its next check. The compiled book looks ahead on its tape in one
compiled call; the oracle ``ReplayBook`` looks row by row; both must give the same orders.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import numpy as np
import pytest

from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.algorithms import tob
from makerfirst.clock import VirtualClock
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.orders import OrderReport, Side
from makerfirst.domain.product import Product
from makerfirst.ports import BookWakeups
from makerfirst.replay.cbook import BookTape, CompiledBook
from makerfirst.replay.driver import ReplayExchange, condition_ticks, product_tape
from makerfirst.replay.events import ASK, BID, CLEAR, EVENT_DTYPE, LEVEL, EventStream, ProductScale
from makerfirst.replay.policies import parse_policies, resolve_policy, run_policy
from makerfirst.replay.venue import CompiledReplayExchange

X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal("0.01"), Decimal("0.01"), Decimal(0))
SCALE = ProductScale("X-USD", X.price_increment, X.base_increment)
LATENCY = 0.05
Row = tuple[float, int, int, int, int]


def stream_of(rows: list[Row]) -> EventStream:
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    return EventStream((SCALE,), events)


def tape_rows(*extra: Row) -> list[Row]:
    """Bid 0.9975 and ask 1.0025 (10,000 X each) from 90 s, ``extra``, quiet until 300 s."""
    return [
        (90.0, CLEAR, 0, 0, 0),
        (90.0, LEVEL, BID, 9975, 1_000_000),
        (90.0, LEVEL, ASK, 10025, 1_000_000),
        *extra,
        (300.0, LEVEL, BID, 9960, 5),
    ]


def exchanges(rows: list[Row]) -> dict[str, tuple[VirtualClock, SimulatedExchange]]:
    stream = stream_of(rows)
    settings = SimulatorSettings(request_latency_sec=LATENCY, cancel_queue_sec=0.0)
    out: dict[str, tuple[VirtualClock, SimulatedExchange]] = {}
    for name in ("oracle", "compiled", "timer only"):
        clock = VirtualClock(start=100.0)
        balances = {"X": Decimal(10_000), "USD": Decimal(0)}
        exchange: SimulatedExchange
        if name == "compiled":
            exchange = CompiledReplayExchange(
                clock, X, BookTape.from_stream(stream, "X-USD"), balances, settings=settings
            )
        elif name == "oracle":
            exchange = ReplayExchange(clock, X, product_tape(stream, "X-USD"), balances, settings=settings)
        else:
            exchange = TimerOnly(clock, X, product_tape(stream, "X-USD"), balances, settings=settings)
        exchange.advance()
        out[name] = (clock, exchange)
    return out


class TimerOnly(ReplayExchange):
    """The oracle venue ignoring book conditions (as a venue that cannot watch its book may): the
    engine reads the book on its timer alone."""

    async def wait_book_condition(self, product_id: str, condition: BookCondition, until: float) -> None:
        await self._clock.sleep_until(until)


def sell_with_tob(clock: VirtualClock, exchange: SimulatedExchange) -> list[OrderReport]:
    spec = parse_policies("tob")[0]
    work = run_policy(
        spec,
        resolve_policy(spec.overrides),
        exchange,
        clock,
        product_id="X-USD",
        size=Decimal(200),
        deadline=160.0,
    )

    async def until_done() -> None:
        task = asyncio.ensure_future(work)
        await clock.sleep_until(130.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(until_done())
    return sorted(exchange.all_orders(), key=lambda o: o.created_time)


def test_tob_re_prices_when_the_bid_moves_up_between_its_checks_not_at_the_next_one() -> None:
    # Our sell rests at 0.9976 (bid + 1 tick) from 100.3 s, read from 2 s on about every 1 s. At
    # 102.5 s a bid at 0.9980 arrives: best bid + cushion now prices 0.9981, so the order is
    # displaced; the venue wakes the loop then (the new order follows a few latencies later), the
    # timer alone at its next read (103.75 s).
    event = 102.5
    runs = {
        name: sell_with_tob(*pair)
        for name, pair in exchanges(tape_rows((event, LEVEL, BID, 9980, 50))).items()
    }
    woken, oracle, timer = runs["compiled"], runs["oracle"], runs["timer only"]
    assert [(o.limit_price, o.created_time, o.status) for o in woken] == [
        (o.limit_price, o.created_time, o.status) for o in oracle
    ]
    first, second = woken[0], woken[1]
    assert first.limit_price == Decimal("0.9976") and second.limit_price == Decimal("0.9981")
    assert event < second.created_time < event + 7 * LATENCY  # woken by the row, then cancel + re-place
    re_priced_on_timer = timer[1].created_time
    assert re_priced_on_timer > event + 1.0  # the timer alone comes later
    assert timer[1].limit_price == second.limit_price


def test_an_ask_below_ours_wakes_the_loop_on_both_books() -> None:
    # Our sell rests at 0.9976; at 103.6 s the bid falls back to 0.9960 and an ask at 0.9970
    # arrives in the same message: an ask below ours displaces it (re-priced at 0.9961).
    event = 103.6
    rows = tape_rows(
        (event, LEVEL, BID, 9960, 1_000_000), (event, LEVEL, BID, 9975, 0), (event, LEVEL, ASK, 9970, 3)
    )
    runs = {name: sell_with_tob(*pair) for name, pair in exchanges(rows).items()}
    woken, oracle = runs["compiled"], runs["oracle"]
    assert [(o.limit_price, o.created_time) for o in woken] == [
        (o.limit_price, o.created_time) for o in oracle
    ]
    assert event < woken[1].created_time < event + 7 * LATENCY
    assert woken[1].limit_price == Decimal("0.9961")
    assert runs["timer only"][1].created_time > woken[1].created_time


def test_the_condition_is_looked_for_ahead_without_moving_the_book() -> None:
    tape = BookTape.from_stream(
        stream_of(tape_rows((101.0, LEVEL, BID, 9976, 5), (102.0, LEVEL, BID, 9990, 5))), "X-USD"
    )
    book = CompiledBook(tape)
    book.advance(int(100e9))
    cursor, bid = book.cursor, book.best_bid()
    assert book.first_row_meeting(None, 9980, len(tape)) == 4  # the 0.9990 bid, not the 0.9976 one
    assert book.first_row_meeting(None, 9975, len(tape)) == 3
    assert book.first_row_meeting(None, 9974, len(tape)) is None  # already shown: not an event
    assert book.first_row_meeting(None, 9980, 4) is None  # not before the stop row
    assert book.first_row_meeting(10025, None, len(tape)) is None  # no ask ever below 1.0025
    assert (book.cursor, book.best_bid()) == (cursor, bid)


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        (Side.SELL, BookCondition(best_ask_below=Decimal("1.0000"), best_bid_above=Decimal("0.9998"))),
        (Side.BUY, BookCondition(best_ask_below=Decimal("1.0002"), best_bid_above=Decimal("1.0000"))),
    ],
)
def test_the_displacement_condition_is_exactly_where_displaced_turns_true(
    side: Side, expected: BookCondition
) -> None:
    price = Decimal("1.0000")
    condition = tob.displacement(side, price, 2, X)
    assert condition == expected
    for bid in range(9990, 10000):
        for ask in range(bid + 1, 10011):
            book = OrderBook(
                "X-USD",
                (Level(Decimal(bid) / 10000, Decimal(1)),),
                (Level(Decimal(ask) / 10000, Decimal(1)),),
                0.0,
            )
            assert condition.holds(book) == tob.displaced(book, side, price, 2, X), (bid, ask)


def test_thresholds_in_ticks_are_strict_bounds() -> None:
    condition = BookCondition(best_ask_below=Decimal("1.00005"), best_bid_above=Decimal("0.99995"))
    assert condition_ticks(condition, X.price_increment) == (
        10001,
        9999,
    )  # ask 1.0000 < 1.00005; bid 1.0000 > 0.99995
    assert condition_ticks(BookCondition(), X.price_increment) == (None, None)


def test_only_the_replay_venues_offer_book_wakeups() -> None:
    clock = VirtualClock()
    assert not isinstance(SimulatedExchange(clock, [X], {}), BookWakeups)
    pair = exchanges(tape_rows())
    assert isinstance(pair["compiled"][1], BookWakeups) and isinstance(pair["oracle"][1], BookWakeups)
