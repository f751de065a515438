"""Replay a captured L2 + trades tape through the simulator's matching engine, with a fill model.

The backtest replays on the compiled book (:mod:`makerfirst.replay.venue`) under the conservative
model; the Python :class:`ReplayBook` here is its test oracle (compared event by event and end to
end) and the book of the probabilistic model.

:class:`ReplayMarket` is a :class:`~makerfirst.adapters.sim.driver.MarketDriver` that feeds one
product's events (an :class:`~makerfirst.replay.events.EventStream`, decoded once by the readers)
into a :class:`ReplayBook`, the matching engine of a :class:`ReplayExchange`. The contract:

* **The displayed book is the market.** Every ``LEVEL`` row sets the resting size at its price;
  the book the engine reads (``get_order_book``) is the venue's displayed book. History is
  immutable: our orders never move it. What our own taker order consumes stays consumed only
  until the feed next updates that level (Nautilus's "liquidity consumption" semantics).
* **Our resting orders are virtual.** They are not shown in the displayed book; each keeps an
  estimate of the displayed size queued *ahead* of it at its price, taken when it arrived (we
  join the back of the level). Size added to the level later queues behind us.
* **Our crossing orders** (the limit IOC taker) execute against the displayed book at arrival,
  level by level down to their limit; the rest is cancelled by the exchange.
* **Fills of resting orders** depend on the :class:`FillModel`:

  - ``conservative`` (the default, and the one every policy is judged on): a resting order fills
    only from TRADES at or through its price. A trade through our price (a buyer paying more than
    our ask) fills us at our limit, up to the trade's size. A trade at our price first uses up
    the queue ahead of us; only the excess fills us. A size decrease at our level is taken to
    be cancellations *behind* us, except that the queue ahead can never exceed what is displayed
    (hftbacktest's ``RiskAdverseQueueModel``). A touch without a trade never fills.
  - ``probabilistic``: as conservative, but a decrease that no trade explains is split between
    ahead and behind with hftbacktest's power queue function: the share taken from behind is
    ``b^n / (b^n + a^n)`` for ``a`` lots ahead and ``b`` behind (``n`` = ``queue_power``, 2 by
    default), so the head of the queue never moves up and the tail always does.
  There is no touch-fills model: a resting order never fills without a trade on the tape, under
  any model.

* **Trades and level updates describe the same event twice**, in either order (Coinbase sends
  the ``l2update`` of a match before or after the ``match`` itself). A decrease already
  explained by trades seen since the level's last update is not counted again as cancels; and
  when a decrease moved our queue position up, a trade at that level that follows within
  ``pairing_window_sec`` only moves it by what the decrease did not already account for.
* **Latency.** The exchange's ``request_latency_sec`` is the order-entry latency (and a book
  request sees the book as it is when the request arrives). ``feed_latency_sec`` is how much
  later the capture received each event than the venue matched it: the tape is applied to the
  matching engine at ``receive time − feed_latency_sec``.

Trades in the tape carry the aggressor's side (``BUY`` trades hit asks, so they fill our sells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from itertools import count
from typing import TYPE_CHECKING

import numpy as np

from makerfirst.adapters.sim.driver import NEVER
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.matching import Match, MatchingEngine, RestingOrder
from makerfirst.clock import Clock
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.replay.events import BBO, BID, CLEAR, EVENT_DTYPE, LEVEL, TRADE, EventStream, ProductScale

if TYPE_CHECKING:
    from makerfirst.replay.cbook.book import Volume


def condition_ticks(condition: BookCondition, tick: Decimal) -> tuple[int | None, int | None]:
    """``condition``'s thresholds as strict bounds in ticks (None: not watched): an ask at ``p``
    ticks is below ``best_ask_below`` iff ``p < first``; a bid is above ``best_bid_above`` iff
    ``p > second``."""
    below = condition.best_ask_below
    above = condition.best_bid_above
    return (
        None if below is None else math.ceil(below / tick),
        None if above is None else math.floor(above / tick),
    )


class FillModel(StrEnum):
    CONSERVATIVE = "conservative"
    PROBABILISTIC = "probabilistic"


@dataclass(frozen=True, eq=False)
class ProductTape:
    """One product's events from an :class:`EventStream`: ``rows`` as the stream holds them
    (``EVENT_DTYPE``, for the compiled book), and as plain Python columns for the Python loops
    (the oracle, the calibration), built on first use.

    ``times`` are receive times in epoch seconds; ``sides`` use the stream's codes (``BID``/``ASK``,
    ``BUY``/``SELL`` for trades); prices in ticks, sizes in lots; ``aux`` is the BBO row's best ask.
    """

    scale: ProductScale
    rows: np.ndarray

    @classmethod
    def of(cls, scale: ProductScale, rows: Sequence[tuple[float, int, int, int, int]]) -> ProductTape:
        """A tape from ``(seconds, kind, side, price ticks, size lots)`` rows, in that order."""
        events = np.zeros(len(rows), dtype=EVENT_DTYPE)
        for i, (when, kind, side, price, size) in enumerate(rows):
            events[i] = (round(when * 1e9), 0, kind, side, price, size, 0)
        return cls(scale, events)

    @cached_property
    def times(self) -> tuple[float, ...]:
        # Seconds as floats only for the virtual clock; prices and sizes stay integer ticks and lots.
        return tuple((self.rows["ts_ns"].astype(np.float64) / 1e9).tolist())

    @cached_property
    def kinds(self) -> tuple[int, ...]:
        return tuple(self.rows["kind"].tolist())

    @cached_property
    def sides(self) -> tuple[int, ...]:
        return tuple(self.rows["side"].tolist())

    @cached_property
    def prices(self) -> tuple[int, ...]:
        return tuple(self.rows["price"].tolist())

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.rows["size"].tolist())

    @cached_property
    def aux(self) -> tuple[int, ...]:
        return tuple(self.rows["aux"].tolist())

    @property
    def product_id(self) -> str:
        return self.scale.product_id

    def _time(self, i: int) -> float:
        return float(np.float64(self.rows["ts_ns"][i]) / 1e9)

    @property
    def start(self) -> float:
        return self._time(0) if len(self) else NEVER

    @property
    def end(self) -> float:
        return self._time(-1) if len(self) else NEVER

    @property
    def first_book_time(self) -> float:
        """When the first book row arrives (a snapshot): before it there is no book to trade on."""
        book_rows = np.flatnonzero(self.rows["kind"] == LEVEL)
        return self._time(int(book_rows[0])) if len(book_rows) else self.end

    def __len__(self) -> int:
        return len(self.rows)


def product_tape(stream: EventStream, product_id: str) -> ProductTape:
    """The rows of ``product_id`` in ``stream``, in stream order."""
    index = next((i for i, p in enumerate(stream.products) if p.product_id == product_id), None)
    if index is None:
        known = ", ".join(p.product_id for p in stream.products)
        raise MakerfirstError(f"{product_id} is not in the capture; it holds: {known}")
    mine = stream.events["product"] == index
    return ProductTape(stream.products[index], stream.events if mine.all() else stream.events[mine])


def _book_side(code: int) -> Side:
    """The stream's ``BID``/``BUY`` code is our ``Side.BUY``; ``ASK``/``SELL`` is ``Side.SELL``."""
    return Side.BUY if code == BID else Side.SELL


@dataclass(slots=True)
class _Virtual:
    """One of our resting orders: where it is and how much displayed size is queued ahead of it."""

    order_id: str
    side: Side
    price: int
    remaining: int
    ahead: int
    seq: int
    credit: int = 0  # lots a recent level decrease moved us up, awaiting the trade that caused it
    credit_time: float = -math.inf


@dataclass(slots=True)
class BboCheck:
    """The venue's own best bid/ask rows compared with the displayed book while replaying."""

    compared: int = 0
    mismatches: int = 0


@dataclass(slots=True)
class _Stats:
    trades: int = 0
    level_updates: int = 0
    bbo: BboCheck = field(default_factory=BboCheck)


class ReplayBook(MatchingEngine):
    """A matching engine whose market side is the displayed L2 book and whose own orders are virtual.

    Drop-in for :class:`MatchingEngine` inside the simulated exchange (see the module docstring for
    the fill rules). Market levels live in the parent engine as one aggregate order per price, so
    ``levels``, ``best_bid``/``best_ask``, ``would_cross`` and our IOC's matching are the parent's.
    """

    def __init__(
        self,
        fill_model: FillModel = FillModel.CONSERVATIVE,
        *,
        queue_power: float = 2.0,
        pairing_window_sec: float = 0.25,
    ) -> None:
        super().__init__()
        self.fill_model = fill_model
        self._power = queue_power
        self._pairing = pairing_window_sec
        self._display: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
        self._virtual: dict[str, _Virtual] = {}
        # Trade lots printed at (passive side, price) since that level's last update.
        self._traded: dict[tuple[Side, int], int] = {}
        # The last decrease at (side, price) not yet matched with a trade: (lots, time).
        self._decrease: dict[tuple[Side, int], tuple[int, float]] = {}
        self._resync_time: float | None = None
        self._seq = count()
        self._taker_ids = count(1)
        self.stats = _Stats()

    # -- the tape ------------------------------------------------------------------------------
    def apply(self, kind: int, side: int, price: int, size: int, aux: int, *, now: float) -> list[Match]:
        """Apply one tape row at time ``now``; return the fills of our orders it causes."""
        if self._resync_time is not None and (kind != LEVEL or now != self._resync_time):
            self._end_resync()
        if kind == LEVEL:
            return self.set_level(_book_side(side), price, size, now)
        if kind == TRADE:
            return self.trade(_book_side(side), price, size, now)
        if kind == CLEAR:
            self.clear(now)
        elif kind == BBO and size == 1:
            self._check_bbo(price, aux)
        return []

    def clear(self, now: float) -> None:
        """A snapshot follows: forget the displayed book. Queue estimates are kept and capped at
        the new sizes once the snapshot's rows are in (a snapshot is no news about our queue)."""
        for side, levels in self._display.items():
            for price in list(levels):
                self._set_engine_level(side, price, 0)
            levels.clear()
        self._traded.clear()
        self._decrease.clear()
        self._resync_time = now

    def set_level(self, side: Side, price: int, lots: int, now: float) -> list[Match]:
        """The displayed size at (``side``, ``price``) is now ``lots`` (0 removes the level)."""
        self.stats.level_updates += 1
        display = self._display[side]
        old = display.get(price, 0)
        if lots > 0:
            display[price] = lots
        else:
            display.pop(price, None)
        self._set_engine_level(side, price, lots)
        if self._resync_time is not None:
            return []
        traded = self._traded.pop((side, price), 0)
        cancels = max(0, old - lots - traded)  # the part of a decrease that no trade explains
        if cancels > 0:
            self._decrease[side, price] = (cancels, now)
        for order in self._virtual_at(side, price):
            self._requeue(order, old - traded, lots, cancels, now)
        return []

    def trade(self, aggressor: Side, price: int, lots: int, now: float) -> list[Match]:
        """A trade of ``lots`` at ``price`` whose aggressor was on ``aggressor``'s side."""
        self.stats.trades += 1
        passive = aggressor.opposite
        explained = 0
        decrease = self._decrease.get((passive, price))
        if decrease is not None and now - decrease[1] <= self._pairing:
            explained = min(lots, decrease[0])
            left = decrease[0] - explained
            if left:
                self._decrease[passive, price] = (left, decrease[1])
            else:
                del self._decrease[passive, price]
        # Only what an earlier decrease did not already show will show in the level's next update.
        self._traded[passive, price] = self._traded.get((passive, price), 0) + lots - explained

        matches: list[Match] = []
        available = lots
        taker_id = f"tape-{next(self._taker_ids)}"
        for order in self._by_priority(passive):
            if not _reaches(order, price):
                break
            take = self._trade_fill(order, price, lots, available, now)
            if take > 0:
                matches.append(self._fill(order, take, taker_id, aggressor))
                available -= take
        return matches

    # -- our orders: the MatchingEngine interface --------------------------------------------------
    def submit(
        self, order_id: str, side: Side, price: int | None, lots: int, *, ours: bool, rest: bool
    ) -> list[Match]:
        """Our IOC matches the displayed book; our resting order becomes virtual behind the level.

        Market participants never submit here: the tape moves the market.
        """
        if not ours:
            raise MakerfirstError("a replayed market moves only through its tape, not submit()")
        matches: list[Match] = []
        if price is None or self.would_cross(side, price):
            matches = super().submit(order_id, side, price, lots, ours=True, rest=False)
            lots -= sum(m.lots for m in matches)
        if rest and lots > 0 and price is not None:
            ahead = self._display[side].get(price, 0)
            self._virtual[order_id] = _Virtual(order_id, side, price, lots, ahead, next(self._seq))
        return matches

    def cancel(self, order_id: str) -> int | None:
        order = self._virtual.pop(order_id, None)
        if order is not None:
            return order.remaining
        return super().cancel(order_id)

    def resting(self, order_id: str) -> RestingOrder | None:
        order = self._virtual.get(order_id)
        if order is not None:
            return RestingOrder(order.order_id, order.side, order.price, order.remaining, ours=True)
        return super().resting(order_id)

    def queue_ahead(self, order_id: str) -> int:
        order = self._virtual.get(order_id)
        return order.ahead if order is not None else super().queue_ahead(order_id)

    def orders_at(self, side: Side, price: int) -> list[RestingOrder]:
        mine = [
            RestingOrder(o.order_id, o.side, o.price, o.remaining, True)
            for o in self._virtual_at(side, price)
        ]
        return super().orders_at(side, price) + mine

    def our_resting(self) -> list[RestingOrder]:
        """Our virtual resting orders (for traces)."""
        return [RestingOrder(o.order_id, o.side, o.price, o.remaining, True) for o in self._virtual.values()]

    def displayed(self, side: Side) -> dict[int, int]:
        """The venue's displayed size per price on ``side`` (a copy)."""
        return dict(self._display[side])

    # -- internals --------------------------------------------------------------------------------
    def _set_engine_level(self, side: Side, price: int, lots: int) -> None:
        level_id = f"L{side.value}{price}"
        order = super().resting(level_id)
        if lots <= 0:
            if order is not None:
                super().cancel(level_id)
        elif order is not None:
            order.remaining = lots  # one aggregate order per level: resizing it loses no priority
        else:
            # Enqueue without matching: a transiently crossed display (diffs applied one at a time)
            # must not trade the market with itself.
            self._enqueue(RestingOrder(level_id, side, price, lots, ours=False))

    def _end_resync(self) -> None:
        self._resync_time = None
        for order in self._virtual.values():
            order.ahead = min(order.ahead, self._display[order.side].get(order.price, 0))

    def _virtual_at(self, side: Side, price: int) -> list[_Virtual]:
        return [o for o in self._virtual.values() if o.side is side and o.price == price]

    def _by_priority(self, side: Side) -> list[_Virtual]:
        orders = [o for o in self._virtual.values() if o.side is side]
        sign = 1 if side is Side.SELL else -1  # asks: lowest first; bids: highest first
        return sorted(orders, key=lambda o: (sign * o.price, o.seq))

    def _requeue(self, order: _Virtual, before: int, after: int, cancels: int, now: float) -> None:
        """Move ``order``'s queue estimate after its level went from ``before`` to ``after`` lots
        (``before`` already net of trades seen since the last update; ``cancels`` is what no
        trade explains)."""
        ahead = order.ahead
        if cancels > 0 and self.fill_model is FillModel.PROBABILISTIC and ahead > 0:
            behind = max(0, before - ahead)
            share_behind = _behind_share(ahead, behind, self._power)
            estimate = ahead - (1 - share_behind) * cancels + min(behind - share_behind * cancels, 0.0)
            ahead = max(0, round(estimate))
        # Whatever the model, nobody can be ahead of us who is not displayed.
        ahead = min(ahead, after)
        moved = order.ahead - ahead
        if moved > 0:
            fresh = now - order.credit_time <= self._pairing
            order.credit = (order.credit if fresh else 0) + moved
            order.credit_time = now
        order.ahead = ahead

    def _trade_fill(self, order: _Virtual, price: int, lots: int, available: int, now: float) -> int:
        if order.price != price:  # the trade went through our price: we were first in line
            return min(order.remaining, available)
        explained = 0
        if order.credit and now - order.credit_time <= self._pairing:
            explained = min(lots, order.credit)
            order.credit -= explained
        order.ahead -= lots - explained
        if order.ahead >= 0:
            return 0
        excess, order.ahead = -order.ahead, 0
        return min(order.remaining, excess, available)

    def _fill(self, order: _Virtual, lots: int, taker_id: str, aggressor: Side) -> Match:
        order.remaining -= lots
        if order.remaining <= 0:
            del self._virtual[order.order_id]
        # Resting orders fill at their own limit price, whatever the trade printed at.
        return Match(
            order.order_id, taker_id, aggressor, order.price, lots, maker_is_ours=True, taker_is_ours=False
        )

    def _check_bbo(self, bid: int, ask: int) -> None:
        self.stats.bbo.compared += 1
        bids, asks = self._display[Side.BUY], self._display[Side.SELL]
        best = (max(bids) if bids else 0, min(asks) if asks else 0)
        if best != (bid, ask):
            self.stats.bbo.mismatches += 1


def _reaches(order: _Virtual, price: int) -> bool:
    """True when a trade at ``price`` is at or through ``order``'s limit."""
    return order.price <= price if order.side is Side.SELL else order.price >= price


def _behind_share(ahead: int, behind: int, power: float) -> float:
    """hftbacktest's power queue function: the share of an unexplained decrease taken from behind."""
    front, back = float(ahead) ** power, float(behind) ** power
    return back / (front + back) if front + back > 0 else 0.0


class ReplayMarket:
    """The :class:`MarketDriver` that plays a :class:`ProductTape` into a :class:`ReplayBook`."""

    def __init__(self, tape: ProductTape, book: ReplayBook, *, feed_latency_sec: float = 0.0) -> None:
        self._tape = tape
        self._book = book
        self._shift = feed_latency_sec
        self._index = 0
        self._arrival_index = 0

    @property
    def book(self) -> ReplayBook:
        return self._book

    @property
    def exhausted(self) -> bool:
        return self._index >= len(self._tape)

    def mark_arrival(self) -> None:
        """The episode starts here: the rows before were its catch-up."""
        self._arrival_index = self._index

    @property
    def rows_since_arrival(self) -> tuple[int, int]:
        """(first, stop) indices of the rows applied since ``mark_arrival``."""
        return self._arrival_index, self._index

    def first_time_meeting(self, ask_below: int | None, bid_above: int | None, until: float) -> float | None:
        """Looking ahead without applying anything: the venue time of the first row at or before
        ``until`` after which the book shows an ask below ``ask_below`` or a bid above
        ``bid_above`` (ticks, strict; None: not watched); None if none does, or if the book shows
        one already (only a change into the condition is an event). The compiled book's
        ``first_row_meeting``, row by row."""
        book, tape = self._book, self._tape
        asks = set() if ask_below is None else {p for p in book.prices(Side.SELL, len(tape)) if p < ask_below}
        bids = set() if bid_above is None else {p for p in book.prices(Side.BUY, len(tape)) if p > bid_above}
        if asks or bids:
            return None
        for i in range(self._index, len(tape)):
            when = tape.times[i] - self._shift
            if when > until:
                return None
            kind = tape.kinds[i]
            if kind == CLEAR:
                asks.clear()
                bids.clear()
            elif kind == LEVEL:
                price, shows = tape.prices[i], tape.sizes[i] > 0
                watched = bids if tape.sides[i] == BID else asks
                if (tape.sides[i] == BID and bid_above is not None and price > bid_above) or (
                    tape.sides[i] != BID and ask_below is not None and price < ask_below
                ):
                    if shows:
                        watched.add(price)
                    else:
                        watched.discard(price)
                if asks or bids:
                    return when
        return None

    def next_time(self) -> float:
        """The venue time of the next row: its receive time less the feed latency."""
        i = self._index
        return self._tape.times[i] - self._shift if i < len(self._tape.times) else NEVER

    def step(self, engine: MatchingEngine) -> list[Match]:
        if engine is not self._book:
            raise MakerfirstError("a ReplayMarket drives only its own ReplayBook")
        t, i = self._tape, self._index
        self._index += 1
        return self._book.apply(
            t.kinds[i], t.sides[i], t.prices[i], t.sizes[i], t.aux[i], now=t.times[i] - self._shift
        )


class ReplayExchange(SimulatedExchange):
    """A :class:`SimulatedExchange` whose one product trades on a :class:`ReplayBook` fed by a tape.

    Everything else (post-only rejects, IOC, GTD expiry, fees, balances, request latency, the
    cancel queue) is the simulator's own.
    """

    def __init__(
        self,
        clock: Clock,
        product: Product,
        tape: ProductTape,
        balances: dict[str, Decimal],
        *,
        fill_model: FillModel = FillModel.CONSERVATIVE,
        settings: SimulatorSettings | None = None,
        feed_latency_sec: float = 0.0,
        queue_power: float = 2.0,
    ) -> None:
        super().__init__(clock, [product], balances, settings)
        self.replay_book = ReplayBook(fill_model, queue_power=queue_power)
        self.market = ReplayMarket(tape, self.replay_book, feed_latency_sec=feed_latency_sec)
        self.attach_market(product.product_id, self.market, engine=self.replay_book)
        self._replay_tape = tape
        self._replay_product = product.product_id
        self._replay_tick = product.price_increment

    def mark_arrival(self) -> None:
        """The episode starts now: the rows applied before were its catch-up."""
        self.market.mark_arrival()

    async def wait_book_condition(self, product_id: str, condition: BookCondition, until: float) -> None:
        """Sleep until the first tape row that brings ``condition`` about, or ``until`` (``BookWakeups``).
        The tape is only looked at ahead: its rows are applied when the clock gets there, in order
        with the timers and the other drivers."""
        self.advance()
        when = None
        if product_id == self._replay_product:
            ask_below, bid_above = condition_ticks(condition, self._replay_tick)
            when = self.market.first_time_meeting(ask_below, bid_above, until)
        await self._clock.sleep_until(until if when is None else when)

    def lived_through(self) -> Volume:
        """Messages and level rows applied since :meth:`mark_arrival`."""
        from makerfirst.replay.cbook.book import count_volume  # noqa: PLC0415 - the compiled book only when counted

        start, stop = self.market.rows_since_arrival
        rows = self._replay_tape.rows[start:stop]
        return count_volume(rows["kind"], rows["ts_ns"])
