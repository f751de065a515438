"""The compiled L2 book with our orders inside it, advanced event by event in one compiled call.

A :class:`BookTape` is one product's rows of an :class:`~makerfirst.replay.events.EventStream`
as contiguous integer columns, plus its *level layout*: the sorted distinct prices of its level
rows, so that a level is addressed by its rank. Ranks keep the arrays as small as the number of
prices that ever carry size (31 k for the BTCUSDT capture, whose 1000-level snapshot spans
15,460.80 to 200,000.00 USDT), with O(1) access and short best-price rescans.

A :class:`CompiledBook` replays a tape under the conservative fill model of
:class:`makerfirst.replay.driver.ReplayBook` (that class is its test oracle, compared event by
event): the displayed book is the market; any number of our resting orders are virtual, each
behind the displayed size at its price when it arrived; they fill only from trades at or through
their price once the queue ahead is used up; a decrease of a level that a trade then explains (or
the other way round) is counted once (each order's *credit*: what a shrink of its level moved it
up, which the trade that caused the shrink, within ``pairing_window_ns``, does not move again).
``advance(until_ns)`` applies rows in one compiled call and stops at ``until_ns``, at a row that
fills one of our orders, or (if asked) at a change of the best bid or ask, and says why.

A :class:`Checkpoint` is the whole book state (levels, our orders and their credits, the cursor) at
one moment; :func:`checkpoints` takes many in one pass over the tape, and
:meth:`CompiledBook.restore` starts a book from one, so an episode starts at its arrival without
replaying the prefix.

Times are venue nanoseconds (receive time less the feed latency), prices ticks, sizes lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import ModuleType

import numpy as np

from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.orders import Side
from makerfirst.replay.cbook import layout as lay
from makerfirst.replay.cbook import native
from makerfirst.replay.distinct import distinct_with_ranks
from makerfirst.replay.events import BBO, BID, CLEAR, EVENT_DTYPE, LEVEL, TRADE, EventStream, ProductScale

DEFAULT_PAIRING_NS = 250_000_000  # ReplayBook's pairing_window_sec default


@dataclass(frozen=True, slots=True)
class Volume:
    """What a replay went through, in the venue's units of work: ``messages`` (snapshots + depth
    diffs + trades; BBO/ticker messages are not counted) and ``level_rows`` (the (side, price,
    size) entries the snapshots and diffs carry)."""

    messages: int
    level_rows: int


def count_volume(kind: np.ndarray, ts_ns: np.ndarray) -> Volume:
    """The :class:`Volume` of rows with these ``kind`` and ``ts_ns`` columns: a snapshot is a CLEAR
    row and the LEVEL rows stamped with it; a depth diff is a run of LEVEL rows sharing one receive
    time; a trade is one TRADE row; BBO rows are skipped."""
    book_or_trade = kind != BBO
    kind, ts_ns = kind[book_or_trade], ts_ns[book_or_trade]
    level = kind == LEVEL
    continues = np.zeros(len(kind), bool)  # a LEVEL row that belongs to the message before it
    continues[1:] = (ts_ns[1:] == ts_ns[:-1]) & (level[:-1] | (kind[:-1] == CLEAR))
    diffs = int((level & ~continues).sum())
    return Volume(int((kind == CLEAR).sum()) + diffs + int((kind == TRADE).sum()), int(level.sum()))


@dataclass(frozen=True, slots=True, eq=False)
class BookTape:
    """One product's rows as contiguous columns (int64 but ``kind``/``side``, int8), and ``level``:
    each row's level index (the rank of its price in ``prices``; -1 when no level row ever had it)."""

    scale: ProductScale
    ts_ns: np.ndarray
    kind: np.ndarray
    side: np.ndarray
    price: np.ndarray
    size: np.ndarray
    aux: np.ndarray
    level: np.ndarray
    prices: np.ndarray

    @classmethod
    def from_stream(cls, stream: EventStream, product_id: str) -> BookTape:
        index = next((i for i, p in enumerate(stream.products) if p.product_id == product_id), None)
        if index is None:
            known = ", ".join(p.product_id for p in stream.products)
            raise MakerfirstError(f"{product_id} is not in the capture; it holds: {known}")
        return cls.from_rows(stream.events[stream.events["product"] == index], stream.products[index])

    @classmethod
    def from_rows(cls, rows: np.ndarray, scale: ProductScale) -> BookTape:
        """``rows`` (``EVENT_DTYPE``, one product, time-ordered) as a tape."""
        if rows.dtype != EVENT_DTYPE:
            raise MakerfirstError(f"tape rows must be an EventStream's EVENT_DTYPE, not {rows.dtype}")
        if len(rows) > 1 and bool((np.diff(rows["ts_ns"]) < 0).any()):
            raise MakerfirstError("tape rows must be in receive-time order (an EventStream's events are)")
        price = np.ascontiguousarray(rows["price"], np.int64)
        kind = np.ascontiguousarray(rows["kind"], np.int8)
        is_level = kind == LEVEL
        prices, level_rank = distinct_with_ranks(price[is_level])
        level = np.full(len(price), -1, np.int64)
        level[is_level] = level_rank
        others = np.flatnonzero(~is_level)  # trades and tickers: the rank where a level has their price
        rank = np.searchsorted(prices, price[others])
        found = rank < len(prices)
        found[found] = prices[rank[found]] == price[others][found]
        level[others[found]] = rank[found]
        return cls(
            scale=scale,
            ts_ns=np.ascontiguousarray(rows["ts_ns"], np.int64),
            kind=kind,
            side=np.ascontiguousarray(rows["side"], np.int8),
            price=price,
            size=np.ascontiguousarray(rows["size"], np.int64),
            aux=np.ascontiguousarray(rows["aux"], np.int64),
            level=level,
            prices=prices,
        )

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def key(self) -> tuple[int, int, int, int]:
        """What tells this tape from another: rows, level prices, first and last receive time."""
        if not len(self):
            return (0, len(self.prices), 0, 0)
        return (len(self), len(self.prices), int(self.ts_ns[0]), int(self.ts_ns[-1]))

    def volume(self, start: int = 0, stop: int | None = None) -> Volume:
        """Messages and level rows in rows ``start:stop`` (e.g. from an episode's arrival cursor to
        where it ended, so a prefix restored from a checkpoint is not counted)."""
        return count_volume(self.kind[start:stop], self.ts_ns[start:stop])

    def level_of(self, price: int) -> int:
        """The level index of ``price``, or -1 if no level row of the tape has it."""
        j = int(np.searchsorted(self.prices, price))
        return j if j < len(self.prices) and int(self.prices[j]) == price else -1


class StopReason(IntEnum):
    END = lay.STOP_END  # the tape is exhausted
    UNTIL = lay.STOP_UNTIL  # the next row is after until_ns
    FILL = lay.STOP_FILL  # the last row applied filled one of our orders
    BEST = lay.STOP_BEST  # the last row applied changed the best bid or ask (stop_on_best_change)
    ROWS = lay.STOP_ROWS  # max_rows rows applied


@dataclass(frozen=True, slots=True)
class BookFill:
    """One fill of our resting order ``order`` (its handle): ``lots`` at its own limit ``price``,
    caused by tape row ``row`` (index into the tape) at venue time ``ts_ns``; ``aggressor`` is the
    trade's side (``Side.BUY``: a buyer lifted our ask)."""

    row: int
    ts_ns: int
    order: int
    lots: int
    price: int
    aggressor: Side


@dataclass(frozen=True, slots=True)
class TakerFill:
    """What our crossing order took from one displayed level: ``lots`` at that level's ``price``."""

    price: int
    lots: int


@dataclass(frozen=True, slots=True)
class Advanced:
    reason: StopReason
    rows: int  # tape rows applied by this call
    fills: tuple[BookFill, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    """``order``: the handle of the part that rests (None if nothing rests); ``taken``: what crossed."""

    order: int | None
    taken: tuple[TakerFill, ...]


@dataclass(frozen=True, slots=True)
class BookStats:
    trades: int
    level_updates: int
    bbo_compared: int
    bbo_mismatches: int


@dataclass(frozen=True, slots=True, eq=False)
class Checkpoint:
    """The book at one moment: the state scalars, the level indices that hold anything and their
    market fields, and our orders. Taken by :meth:`CompiledBook.checkpoint`."""

    state: np.ndarray
    levels: np.ndarray  # level indices
    values: np.ndarray  # (N_MARKET_FIELDS, 2, len(levels))
    orders: np.ndarray
    next_handle: int
    tape_key: tuple[int, int, int, int]  # the tape's rows, level prices, first and last time

    @property
    def cursor(self) -> int:
        return int(self.state[lay.ST_CURSOR])

    @property
    def now_ns(self) -> int:
        return int(self.state[lay.ST_NOW])


def _index(side: Side) -> int:
    return lay.BIDS if side is Side.BUY else lay.ASKS


class CompiledBook:
    """The displayed L2 book of one tape and our virtual orders in it, in arrays the compiled kernels
    advance (:mod:`makerfirst.replay.cbook.kernels`)."""

    def __init__(
        self,
        tape: BookTape,
        *,
        pairing_window_ns: int = DEFAULT_PAIRING_NS,
        feed_latency_ns: int = 0,
        order_capacity: int = 8,
        kernels: ModuleType | None = None,
    ) -> None:
        """``kernels``: what runs the book (default :func:`native.kernels`, the extension built for
        this machine, else numba's JIT); the tests hand in both to compare them."""
        self.tape = tape
        self._k = kernels or native.kernels()
        m = len(tape.prices)
        self._state: np.ndarray = lay.new_state(m, pairing_window_ns, feed_latency_ns)
        self._lv = np.zeros((lay.N_LEVEL_FIELDS, 2, max(m, 1)), np.int64)
        self._touched_flag = np.zeros(max(m, 1), np.int8)
        self._touched = np.zeros(max(m, 1), np.int64)
        self._orders = np.zeros((max(order_capacity, 1), lay.N_ORDER_FIELDS), np.int64)
        self._fills = np.zeros((len(self._orders), lay.N_FILL_FIELDS), np.int64)
        self._scratch = np.zeros(len(self._orders), np.int64)
        self._matches = np.zeros((max(m, 1), 2), np.int64)
        self._next_handle = 1
        self._columns = (tape.ts_ns, tape.kind, tape.side, tape.price, tape.size, tape.aux, tape.level)

    # -- the tape ----------------------------------------------------------------------------------
    def advance(
        self, until_ns: int = lay.FAR, *, max_rows: int | None = None, stop_on_best_change: bool = False
    ) -> Advanced:
        """Apply rows whose venue time is at or before ``until_ns``, stopping early after a row that
        fills one of our orders (or changes the best bid/ask level, if ``stop_on_best_change``), or
        after ``max_rows`` rows."""
        before = self.cursor
        reason = self._k.advance(
            *self._columns,
            self.tape.prices,
            until_ns,
            len(self.tape) if max_rows is None else max_rows,
            stop_on_best_change,
            self._state,
            self._lv,
            self._touched_flag,
            self._touched,
            self._orders,
            self._fills,
            self._scratch,
        )
        return Advanced(StopReason(int(reason)), self.cursor - before, self._last_fills())

    def advance_rows(self, rows: int) -> tuple[BookFill, ...]:
        """:meth:`advance` by at most ``rows`` rows (no time bound), stopping after a row that
        fills us; only the fills, for a caller that wakes often (the replay venue)."""
        self._k.advance(
            *self._columns,
            self.tape.prices,
            lay.FAR,
            rows,
            False,
            self._state,
            self._lv,
            self._touched_flag,
            self._touched,
            self._orders,
            self._fills,
            self._scratch,
        )
        return self._last_fills()

    def catch_up(self, stop: int) -> None:
        """Apply every row before row ``stop`` (at most the tape's end): :meth:`advance` without a
        time bound for a book that holds none of our orders and none of our takers' consumption (a
        checkpoint pass), in its own kernel: the same state, about twice as fast on a long tape."""
        s = self._state
        if s[lay.ST_N_BIDS] or s[lay.ST_N_ASKS] or s[lay.ST_TAKEN_BID] or s[lay.ST_TAKEN_ASK]:
            raise MakerfirstError("catch_up() is for a book without our orders or takers: advance() it")
        columns = self._columns
        self._k.catch_up(*columns, self.tape.prices, stop, s, self._lv, self._touched_flag, self._touched)

    def advance_sampled(self, stops: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, tuple[BookFill, ...]]:
        """For each row index in ``stops`` (ascending): apply the rows before it, then read the best
        bid and ask prices the matching engine shows (-1: none), stopping after a row that fills
        us (before its sample). (samples taken, bids, asks, fills)."""
        bids = np.empty(len(stops), np.int64)
        asks = np.empty(len(stops), np.int64)
        done = int(
            self._k.advance_sampled(
                *self._columns,
                self.tape.prices,
                np.ascontiguousarray(stops, np.int64),
                bids,
                asks,
                self._state,
                self._lv,
                self._touched_flag,
                self._touched,
                self._orders,
                self._fills,
                self._scratch,
            )
        )
        return done, bids[:done], asks[:done], self._last_fills()

    def _last_fills(self) -> tuple[BookFill, ...]:
        n_fills = int(self._state[lay.ST_N_FILLS])
        if not n_fills:
            return ()
        return tuple(
            BookFill(int(r), int(t), int(h), int(q), int(p), Side.BUY if a == BID else Side.SELL)
            for r, t, h, q, p, a in self._fills[:n_fills].tolist()
        )

    @property
    def cursor(self) -> int:
        """The index of the next tape row to apply."""
        return int(self._state[lay.ST_CURSOR])

    @property
    def exhausted(self) -> bool:
        return self.cursor >= len(self.tape)

    @property
    def now_ns(self) -> int:
        """Venue time of the last row applied (0 before any)."""
        return int(self._state[lay.ST_NOW])

    def next_time_ns(self) -> int | None:
        """Venue time of the next row, None at the end of the tape."""
        if self.exhausted:
            return None
        return int(self.tape.ts_ns[self.cursor]) - int(self._state[lay.ST_SHIFT])

    @property
    def stats(self) -> BookStats:
        s = self._state
        return BookStats(
            int(s[lay.ST_TRADES]),
            int(s[lay.ST_LEVEL_UPDATES]),
            int(s[lay.ST_BBO_COMPARED]),
            int(s[lay.ST_BBO_MISMATCHES]),
        )

    # -- the book as the matching engine shows it -------------------------------------------------
    def best_bid(self) -> int | None:
        j = self._k.engine_best(self._state, self._lv, lay.BIDS)
        return int(self.tape.prices[j]) if j >= 0 else None

    def best_ask(self) -> int | None:
        j = self._k.engine_best(self._state, self._lv, lay.ASKS)
        return int(self.tape.prices[j]) if j < len(self.tape.prices) else None

    def would_cross(self, side: Side, price: int) -> bool:
        """True when a limit order at ``price`` would take liquidity on arrival."""
        if side is Side.BUY:
            ask = self.best_ask()
            return ask is not None and price >= ask
        bid = self.best_bid()
        return bid is not None and price <= bid

    def levels(self, side: Side, depth: int) -> list[tuple[int, int]]:
        """Up to ``depth`` (price, lots) pairs, best first, as the matching engine shows them."""
        return [(p, q) for p, q in self.level_rows(side, depth).tolist()]  # Python ints already

    def level_rows(self, side: Side, depth: int) -> np.ndarray:
        """:meth:`levels` as an int64 array of (price, lots) rows."""
        rows = np.empty((max(depth, 0), 2), np.int64)
        return rows[: self._k.engine_levels(self._state, self._lv, self.tape.prices, _index(side), rows)]

    def displayed(self, side: Side) -> dict[int, int]:
        """The venue's displayed size per price on ``side`` (what the feed last said)."""
        sizes = self._lv[lay.LV_SIZE, _index(side), : len(self.tape.prices)]
        at = np.flatnonzero(sizes)
        return dict(zip(self.tape.prices[at].tolist(), sizes[at].tolist(), strict=True))

    def first_row_meeting(self, ask_below: int | None, bid_above: int | None, stop: int) -> int | None:
        """Looking ahead from the cursor to row ``stop`` (exclusive) without changing the book: the
        first row after which the matching engine shows an ask below ``ask_below`` or a bid above
        ``bid_above`` (ticks; None: that side is not watched); None if no row does, or if the book
        already shows one (only a change into the condition is an event)."""
        prices = self.tape.prices
        m = len(prices)
        if self.cursor >= min(stop, len(self.tape)) or m == 0:
            return None
        j_ask = 0 if ask_below is None else int(np.searchsorted(prices, ask_below, side="left"))
        j_bid = m if bid_above is None else int(np.searchsorted(prices, bid_above, side="right")) - 1
        shown = (self._lv[lay.LV_SIZE, :, :m] - self._lv[lay.LV_TAKEN, :, :m] > 0).astype(np.int8)
        row = int(
            self._k.first_row_meeting(
                self.tape.kind, self.tape.side, self.tape.level, self.tape.size,
                self.cursor, min(stop, len(self.tape)), shown[lay.BIDS], shown[lay.ASKS], j_ask, j_bid,
            )
        )  # fmt: skip
        return None if row < 0 else row

    def shown_at(self, side: Side, price: int) -> int:
        """The lots the matching engine shows at ``price`` (displayed less what our takers took)."""
        j = self.tape.level_of(price)
        if j < 0:
            return 0
        s = _index(side)
        return int(self._lv[lay.LV_SIZE, s, j] - self._lv[lay.LV_TAKEN, s, j])

    # -- our orders ------------------------------------------------------------------------------
    def submit(self, side: Side, price: int | None, lots: int, *, rest: bool = True) -> Placed:
        """Our order arrives: what crosses takes the displayed levels down to ``price`` (None: a
        market order); the rest, if ``rest``, queues behind the displayed size at ``price``."""
        if lots <= 0:
            raise MakerfirstError(f"an order needs a positive size in lots, got {lots}")
        if rest and price is not None:
            self._ensure_free_order_row()
        handle = self._next_handle
        n = self._k.submit(
            self._state,
            self._lv,
            self._orders,
            self.tape.prices,
            self._matches,
            _index(side),
            0 if price is None else price,
            price is not None,
            -1 if price is None else self.tape.level_of(price),
            lots,
            rest,
            handle,
        )
        taken = tuple(TakerFill(int(p), int(q)) for p, q in self._matches[:n].tolist())
        rests = self._row_of(handle) is not None
        if rests:
            self._next_handle += 1
        return Placed(handle if rests else None, taken)

    def cancel(self, order: int) -> int | None:
        """Remove our resting order; the lots it still had, or None if it was not resting."""
        remaining = int(self._k.cancel(self._state, self._lv, self._orders, order))
        return None if remaining < 0 else remaining

    def remaining(self, order: int) -> int | None:
        """Lots our order still has, None if it is not resting (filled or cancelled)."""
        row = self._row_of(order)
        return None if row is None else int(self._orders[row, lay.OR_REMAINING])

    def order_price(self, order: int) -> int:
        """The limit price (ticks) of our resting order."""
        row = self._row_of(order)
        if row is None:
            raise MakerfirstError(f"order {order} is not resting in the compiled book")
        return int(self._orders[row, lay.OR_PRICE])

    def queue_ahead(self, order: int) -> int:
        row = self._row_of(order)
        if row is None:
            raise MakerfirstError(f"order {order} is not resting in the compiled book")
        return int(self._orders[row, lay.OR_AHEAD])

    def resting(self) -> list[int]:
        """Handles of our resting orders."""
        active = self._orders[:, lay.OR_ACTIVE] == 1
        return [int(h) for h in self._orders[active, lay.OR_HANDLE].tolist()]

    # -- checkpoints ------------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The whole book now; levels that hold nothing are left out."""
        # The levels holding anything, found over the contiguous arrays (faster than gathering the
        # touched list, which after a snapshot of a deep book is long): a CLEAR forgets only them.
        market = self._lv[: lay.N_MARKET_FIELDS, :, : len(self.tape.prices)]
        keep = np.flatnonzero(market.any(axis=(0, 1)))
        return Checkpoint(
            state=self._state.copy(),
            levels=keep,
            values=np.ascontiguousarray(market[:, :, keep]),
            orders=self._orders.copy(),
            next_handle=self._next_handle,
            tape_key=self.tape.key,
        )

    @classmethod
    def restore(
        cls,
        tape: BookTape,
        checkpoint: Checkpoint,
        *,
        order_capacity: int | None = None,
        kernels: ModuleType | None = None,
    ) -> CompiledBook:
        """A new book on ``tape`` (the one the checkpoint was taken on) in the checkpoint's state."""
        if checkpoint.tape_key != tape.key:
            raise MakerfirstError("this checkpoint was taken on another tape; take one on this tape")
        capacity = max(order_capacity or 0, len(checkpoint.orders))
        book = cls(tape, order_capacity=capacity, kernels=kernels)
        book._state[:] = checkpoint.state
        levels = checkpoint.levels
        book._lv[: lay.N_MARKET_FIELDS, :, levels] = checkpoint.values
        book._touched_flag[levels] = 1
        book._touched[: len(levels)] = levels
        book._state[lay.ST_N_TOUCHED] = len(levels)
        book._orders[: len(checkpoint.orders)] = checkpoint.orders
        for row in np.flatnonzero(book._orders[:, lay.OR_ACTIVE] == 1).tolist():
            j = int(book._orders[row, lay.OR_LEVEL])
            if j >= 0:
                book._lv[lay.LV_OURS, book._orders[row, lay.OR_SIDE], j] += 1
        book._next_handle = checkpoint.next_handle
        return book

    # -- internals --------------------------------------------------------------------------------
    def _row_of(self, order: int) -> int | None:
        rows = self._orders
        hit = np.flatnonzero((rows[:, lay.OR_ACTIVE] == 1) & (rows[:, lay.OR_HANDLE] == order))
        return int(hit[0]) if len(hit) else None

    def _ensure_free_order_row(self) -> None:
        if (self._orders[:, lay.OR_ACTIVE] == 0).any():
            return
        grown = np.zeros((2 * len(self._orders), lay.N_ORDER_FIELDS), np.int64)
        grown[: len(self._orders)] = self._orders
        self._orders = grown
        self._fills = np.zeros((len(grown), lay.N_FILL_FIELDS), np.int64)
        self._scratch = np.zeros(len(grown), np.int64)


def checkpoints(
    tape: BookTape,
    times_ns: list[int],
    *,
    pairing_window_ns: int = DEFAULT_PAIRING_NS,
    feed_latency_ns: int = 0,
) -> list[Checkpoint]:
    """The book (without our orders) after every row at or before each of ``times_ns``, in one pass
    over the tape; in the order of ``times_ns``."""
    book = CompiledBook(tape, pairing_window_ns=pairing_window_ns, feed_latency_ns=feed_latency_ns)
    taken: dict[int, Checkpoint] = {}
    for t in sorted(set(times_ns)):
        book.advance(t)
        taken[t] = book.checkpoint()
    return [taken[t] for t in times_ns]
