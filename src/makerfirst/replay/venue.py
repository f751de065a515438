"""The replay venue on the compiled book: the simulator's exchange, the compiled L2 book as its market.

:class:`CompiledReplayExchange` is a :class:`~makerfirst.adapters.sim.exchange.SimulatedExchange`
(post-only rejects, IOC, GTD expiry, fees, balances, request latency, the cancel queue are the
simulator's own, so the same ``ExecutionEngine``/``TwapLoop`` code runs on it as live) whose one
product trades on a :class:`~makerfirst.replay.cbook.CompiledBook`. The fill rules are the
conservative model of :class:`makerfirst.replay.driver.ReplayBook`, which stays as the test oracle.

**Event-driven.** The exchange's own loop interleaves its market drivers and timers one event at a
time. Here the tape is one driver, :class:`CompiledTape`, and when its turn comes it does not apply
one row: it applies, in one compiled call, every row up to the next moment anything else must
happen: the exchange's next timer (GTD expiry, the cancel queue), another driver's next action
(the mid recorder of the markouts), or the clock's now (the engine's next wake-up: a request
arriving after the entry latency, its sleep target). The compiled book itself stops early after a
row that fills one of our orders, so the exchange settles that fill at that row's time and the
engine hears of it then. Ties keep the oracle's order: rows stamped at the same time as a timer or
another driver's action come first. A driver that only samples the touch on a grid of times (the
markouts' mid recorder, a :class:`TouchSampler`) is served inside the same compiled call
(``CompiledBook.advance_sampled``) rather than waking Python every 0.1 s.

Rows are selected by their venue time in float seconds (receive time less the feed latency),
computed exactly as the oracle's :class:`~makerfirst.replay.driver.ReplayMarket` computes them,
so both paths apply the same rows before the same event.

**Catch-up once.** :func:`arrival_checkpoints` streams a product's tape once and takes a
:class:`~makerfirst.replay.cbook.Checkpoint` at each episode's arrival; an episode's book starts
from its checkpoint instead of replaying the prefix for every (episode, policy).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Protocol, runtime_checkable

import numpy as np

from makerfirst.adapters.sim.driver import NEVER, MarketDriver
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings, _Venue
from makerfirst.adapters.sim.matching import Match, MatchingEngine, RestingOrder
from makerfirst.clock import Clock
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.replay.cbook import BookFill, BookTape, Checkpoint, CompiledBook, Volume
from makerfirst.replay.driver import condition_ticks

_SEC_NS = 1_000_000_000
_LEVELS_KEPT = 100_000  # (price, size) levels remembered by a venue's book view


def venue_times(tape: BookTape, feed_latency_sec: float) -> np.ndarray:
    """Each row's venue time in float seconds, as the oracle computes it (receive time − latency);
    in place on one array (a long tape's temporaries are hundreds of MB of fresh pages)."""
    times = tape.ts_ns.astype(np.float64)
    times /= 1e9
    times -= feed_latency_sec
    return times


def feed_latency_ns(feed_latency_sec: float) -> int:
    return round(feed_latency_sec * _SEC_NS)


class CompiledEngine(MatchingEngine):
    """The :class:`MatchingEngine` interface over a :class:`CompiledBook`: the exchange's order ids
    mapped to the book's handles. Market participants never submit: the tape moves the market."""

    def __init__(self, book: CompiledBook) -> None:
        super().__init__()
        self.book = book
        self._handles: dict[str, int] = {}
        self._ids: dict[int, str] = {}
        self._sides: dict[str, Side] = {}
        self._taker_ids = count(1)
        self.takes = 0  # how many of our orders took liquidity: the shown book changed without a row

    # -- reading -------------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self.book.best_bid()

    def best_ask(self) -> int | None:
        return self.book.best_ask()

    def would_cross(self, side: Side, price: int) -> bool:
        return self.book.would_cross(side, price)

    def levels(self, side: Side, depth: int) -> list[tuple[int, int]]:
        return self.book.levels(side, depth)

    def resting(self, order_id: str) -> RestingOrder | None:
        handle = self._handles.get(order_id)
        remaining = None if handle is None else self.book.remaining(handle)
        if handle is None or remaining is None:
            return None
        return RestingOrder(order_id, self._sides[order_id], self._price(handle), remaining, ours=True)

    def queue_ahead(self, order_id: str) -> int:
        handle = self._handles.get(order_id)
        if handle is None:
            raise KeyError(order_id)
        return self.book.queue_ahead(handle)

    def orders_at(self, side: Side, price: int) -> list[RestingOrder]:
        """The market's aggregate order at the level (if it shows size), then ours there."""
        shown = self.book.shown_at(side, price)
        market = [RestingOrder(f"L{side.value}{price}", side, price, shown, ours=False)] if shown else []
        return market + [o for o in self.our_resting() if o.side is side and o.price == price]

    def our_resting(self) -> list[RestingOrder]:
        """Our resting orders (for traces)."""
        out = []
        for handle in self.book.resting():
            order_id = self._ids[handle]
            remaining = self.book.remaining(handle) or 0
            out.append(RestingOrder(order_id, self._sides[order_id], self._price(handle), remaining, True))
        return out

    # -- acting --------------------------------------------------------------------------------
    def submit(
        self, order_id: str, side: Side, price: int | None, lots: int, *, ours: bool, rest: bool
    ) -> list[Match]:
        if not ours:
            raise MakerfirstError("a replayed market moves only through its tape, not submit()")
        placed = self.book.submit(side, price, lots, rest=rest)
        if placed.taken:
            self.takes += 1
        matches = [
            Match(f"L{side.opposite.value}{t.price}", order_id, side, t.price, t.lots, False, True)
            for t in placed.taken
            if t.lots > 0
        ]
        if placed.order is not None:
            self._handles[order_id] = placed.order
            self._ids[placed.order] = order_id
            self._sides[order_id] = side
        return matches

    def cancel(self, order_id: str) -> int | None:
        handle = self._handles.pop(order_id, None)
        if handle is None:
            return None
        return self.book.cancel(handle)

    def fills_as_matches(self, fills: Sequence[tuple[int, int, int, Side]]) -> list[Match]:
        """(handle, lots, price, aggressor) fills of our resting orders as the exchange's matches."""
        matches = []
        for handle, lots, price, aggressor in fills:
            taker = f"tape-{next(self._taker_ids)}"
            matches.append(Match(self._ids[handle], taker, aggressor, price, lots, True, False))
        return matches

    def _price(self, handle: int) -> int:
        return self.book.order_price(handle)


class CompiledTape:
    """The tape as one :class:`MarketDriver`: ``step_until`` applies every row up to a time in one
    compiled call (stopping after a row that fills us); ``step`` (the rows at the next row's time)
    keeps the plain driver contract for callers that step it themselves."""

    def __init__(self, engine: CompiledEngine, times: np.ndarray) -> None:
        self.engine = engine
        self.times = times
        self.start_row = engine.book.cursor

    @property
    def book(self) -> CompiledBook:
        return self.engine.book

    def next_time(self) -> float:
        cursor = self.book.cursor
        return float(self.times[cursor]) if cursor < len(self.times) else NEVER

    def step(self, engine: MatchingEngine) -> list[Match]:
        return self.step_until(engine, float(self.times[self.book.cursor]))[1]

    def step_until(self, engine: MatchingEngine, bound: float) -> tuple[float, list[Match]]:
        """Apply the rows at or before ``bound``, stopping after one that fills us: (that row's
        venue time, or ``bound`` when nothing filled; the fills of our orders)."""
        if engine is not self.engine:
            raise MakerfirstError("a CompiledTape drives only its own CompiledEngine")
        book = self.engine.book
        cursor = book.cursor
        stop = int(self.times.searchsorted(bound, side="right"))
        if stop <= cursor:
            return bound, []
        fills = book.advance_rows(stop - cursor)
        if not fills:
            return bound, []
        last = float(self.times[book.cursor - 1])  # the row that filled us
        return last, self.engine.fills_as_matches([(f.order, f.lots, f.price, f.aggressor) for f in fills])

    def mark_arrival(self) -> None:
        """The episode starts here: rows before are its catch-up, not counted in ``volume``."""
        self.start_row = self.book.cursor

    def volume(self) -> Volume:
        """What this episode lived through: the rows from its arrival to where the tape now is."""
        return self.book.tape.volume(self.start_row, self.book.cursor)


@runtime_checkable
class TouchSampler(Protocol):
    """A driver that only records the matching engine's best bid and ask (ticks, None: no level) at a
    grid of times, such as the markouts' mid recorder. The compiled venue takes its samples inside
    its compiled call instead of waking Python for each."""

    def next_time(self) -> float: ...

    def step(self, engine: MatchingEngine) -> list[Match]: ...

    def due(self, bound: float) -> np.ndarray:
        """Its next sample times at or before ``bound`` (not yet taken), ascending float seconds."""
        ...

    def record(self, times: np.ndarray, bids: np.ndarray, asks: np.ndarray) -> None:
        """Take the samples at ``times`` (the first ones ``due`` gave): best bid and ask in ticks,
        -1 where the side shows no level."""
        ...


class CompiledReplayExchange(SimulatedExchange):
    """A :class:`SimulatedExchange` whose one product trades on a :class:`CompiledBook` restored
    from ``checkpoint`` (the book at the episode's arrival) or built from the tape's start.

    One :class:`TouchSampler` attached after the tape is served inside the compiled call; every
    other driver is stepped by the exchange as usual (and bounds the tape's calls)."""

    def __init__(
        self,
        clock: Clock,
        product: Product,
        tape: BookTape,
        balances: dict[str, Decimal],
        *,
        checkpoint: Checkpoint | None = None,
        settings: SimulatorSettings | None = None,
        feed_latency_sec: float = 0.0,
        times: np.ndarray | None = None,
    ) -> None:
        super().__init__(clock, [product], balances, settings)
        if checkpoint is None:
            book = CompiledBook(tape, feed_latency_ns=feed_latency_ns(feed_latency_sec))
        else:
            book = CompiledBook.restore(tape, checkpoint)
        self.compiled = CompiledEngine(book)
        self.tape = CompiledTape(
            self.compiled, venue_times(tape, feed_latency_sec) if times is None else times
        )
        self.attach_market(product.product_id, self.tape, engine=self.compiled)
        self._product = product
        self._sampler: TouchSampler | None = None
        self._shown: tuple[tuple[int, int, int], OrderBook] | None = None
        self._levels: dict[tuple[int, int], Level] = {}  # (ticks, lots) → Level: most levels persist
        self._last_side: dict[Side, tuple[bytes, tuple[Level, ...]]] = {}  # each side's last view

    def mark_arrival(self) -> None:
        """The episode starts now: the rows applied before were its catch-up."""
        self.tape.mark_arrival()

    async def wait_book_condition(self, product_id: str, condition: BookCondition, until: float) -> None:
        """Sleep until the first tape row that brings ``condition`` about, or ``until`` (``BookWakeups``):
        the compiled book looks ahead on its tape in one compiled call without applying it (the
        rows are applied when the clock gets there, in order with the timers and other drivers)."""
        self.advance()
        when = None
        if product_id == self._product.product_id:
            ask_below, bid_above = condition_ticks(condition, self._product.price_increment)
            stop = int(self.tape.times.searchsorted(until, side="right"))
            row = self.compiled.book.first_row_meeting(ask_below, bid_above, stop)
            when = None if row is None else float(self.tape.times[row])
        await self._clock.sleep_until(until if when is None else when)

    def lived_through(self) -> Volume:
        """Messages and level rows applied since :meth:`mark_arrival`."""
        return self.tape.volume()

    def book_now(self, product_id: str, depth: int = 50) -> OrderBook:
        """The simulator's book view, rebuilt only when a row or one of our takers changed it (the
        engine reads the book far more often than a liquid tape's touch moves)."""
        if product_id != self._product.product_id:
            return super().book_now(product_id, depth)
        key = (self.compiled.book.cursor, self.compiled.takes, depth)
        if self._shown is None or self._shown[0] != key:
            self._shown = (key, self._book_view(depth))
        view = self._shown[1]
        return OrderBook(view.product_id, view.bids, view.asks, self._time)

    def _book_view(self, depth: int) -> OrderBook:
        tick, lot, known = self._product.price_increment, self._product.base_increment, self._levels
        if len(known) > _LEVELS_KEPT:
            known.clear()
        sides = []
        for side in (Side.BUY, Side.SELL):
            rows = self.compiled.book.level_rows(side, depth)
            seen = rows.tobytes()
            last = self._last_side.get(side)
            if last is not None and last[0] == seen:  # a row moved the other side, or deeper levels
                sides.append(last[1])
                continue
            keys = [(p, q) for p, q in rows.tolist()]
            for key in keys:
                if key not in known:
                    known[key] = Level(key[0] * tick, key[1] * lot)
            levels = tuple(map(known.__getitem__, keys))
            self._last_side[side] = (seen, levels)
            sides.append(levels)
        return OrderBook(self._product.product_id, sides[0], sides[1], self._time)

    def attach_market(
        self, product_id: str, driver: MarketDriver, engine: MatchingEngine | None = None
    ) -> None:
        super().attach_market(product_id, driver, engine)
        if driver is not self.tape and self._sampler is None and isinstance(driver, TouchSampler):
            self._sampler = driver

    def _step_driver(self, venue: _Venue, driver: MarketDriver) -> None:
        if driver is not self.tape:
            super()._step_driver(venue, driver)
            return
        # The next moment anything else happens: a timer, another driver, or the clock's now
        # (where the engine's request or sleep lands). Rows at that very time come first, as the
        # exchange's loop orders a driver before later drivers and before timers at equal times.
        bound = self._clock.now()
        sampler = self._sampler
        for other in venue.drivers:
            if other is not driver and other is not sampler:
                bound = min(bound, other.next_time())
        if self._timers:
            bound = min(bound, self._timers[0][0])
        if sampler is not None:
            # Its samples up to then, in one compiled call: a sample at the bound's very time is
            # taken before a timer there (drivers come before timers at equal times); a driver
            # attached after the sampler only reads the book, so their order at a tie is moot.
            grid = sampler.due(bound)
            if len(grid):
                stops = self.tape.times.searchsorted(grid, side="right")
                done, bids, asks, fills = self.compiled.book.advance_sampled(stops)
                sampler.record(grid[:done], bids, asks)
                if fills:
                    self._settle_fills(venue, fills)
                return
        when, matches = self.tape.step_until(venue.engine, bound)
        if matches:
            self._time = when
            self._settle(venue, matches)

    def _settle_fills(self, venue: _Venue, fills: Sequence[BookFill]) -> None:
        """Our fills from one tape row, settled at that row's venue time."""
        self._time = float(self.tape.times[fills[0].row])
        ours = [(f.order, f.lots, f.price, f.aggressor) for f in fills]
        self._settle(venue, self.compiled.fills_as_matches(ours))


@dataclass(frozen=True, slots=True, eq=False)
class ArrivalBooks:
    """One product's checkpoints at its episodes' arrivals, taken in one pass over the tape."""

    times: np.ndarray  # the tape's venue times (float seconds), shared by every episode
    by_arrival: dict[float, Checkpoint]
    seconds: float  # the pass's wall time


def arrival_checkpoints(
    tape: BookTape, arrivals: Sequence[float], *, feed_latency_sec: float = 0.0
) -> ArrivalBooks:
    """The book after every row at or before each arrival (venue seconds), streaming the tape once."""
    started = time.perf_counter()
    times = venue_times(tape, feed_latency_sec)
    book = CompiledBook(tape, feed_latency_ns=feed_latency_ns(feed_latency_sec))
    taken: dict[float, Checkpoint] = {}
    for arrival in sorted(set(arrivals)):
        book.catch_up(int(np.searchsorted(times, arrival, side="right")))  # no orders: nothing fills
        taken[arrival] = book.checkpoint()
    return ArrivalBooks(times, taken, time.perf_counter() - started)
