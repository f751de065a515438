"""The compiled book against its oracle, ReplayBook's conservative model, event by event.

Prices in ticks, sizes in lots, times in ns. ``BUY`` trades are buyers lifting asks (they fill our
sells); ``SELL`` trades hit bids (they fill our buys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core import caching

from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.orders import Side
from makerfirst.replay.cbook import (
    BookFill,
    BookTape,
    CompiledBook,
    StopReason,
    TakerFill,
    Volume,
    checkpoints,
    kernels,
    native,
)
from makerfirst.replay.driver import ProductTape, ReplayBook, ReplayMarket
from makerfirst.replay.events import ASK, BBO, BID, BUY, CLEAR, EVENT_DTYPE, LEVEL, SELL, TRADE, ProductScale
from makerfirst.replay.readers import read_capture
from simkit import BINANCE_BTCUSDT, COINBASE_THIN

SCALE = ProductScale("TEST-USD", Decimal("0.01"), Decimal("0.001"))
MS = 1_000_000
Spec = tuple[int, int, int, int, int]  # ts, kind, side, price, size


def tape(*spec: Spec, aux: int = 0) -> BookTape:
    rows = np.array(
        [(ts, 0, kind, side, price, size, aux) for ts, kind, side, price, size in spec], EVENT_DTYPE
    )
    return BookTape.from_rows(rows, SCALE)


def snapshot(ts: int = 0) -> list[Spec]:
    """Bids 98 (5), 99 (5); asks 101 (5), 102 (7)."""
    return [
        (ts, CLEAR, 0, 0, 0),
        (ts, LEVEL, BID, 98, 5),
        (ts, LEVEL, BID, 99, 5),
        (ts, LEVEL, ASK, 101, 5),
        (ts, LEVEL, ASK, 102, 7),
    ]


def at_snapshot(*later: Spec) -> tuple[CompiledBook, int]:
    """A book with the snapshot applied and a 3-lot sell resting at 101 behind its 5 lots."""
    book = CompiledBook(tape(*snapshot(), *later))
    book.advance(0)
    order = book.submit(Side.SELL, 101, 3).order
    assert order is not None
    return book, order


def filled(book: CompiledBook) -> list[tuple[int, int, int]]:
    """(time, lots, price) of every fill until the tape ends."""
    out: list[tuple[int, int, int]] = []
    while not book.exhausted:
        out += [(f.ts_ns, f.lots, f.price) for f in book.advance().fills]
    return out


# -- the rules, one at a time ---------------------------------------------------------------------


def test_an_order_joins_behind_the_displayed_size_and_the_best_prices_are_the_books() -> None:
    book, order = at_snapshot()
    assert book.queue_ahead(order) == 5
    assert (book.best_bid(), book.best_ask()) == (99, 101)
    assert book.levels(Side.SELL, 5) == [(101, 5), (102, 7)]
    assert book.displayed(Side.BUY) == {98: 5, 99: 5}


def test_the_queue_ahead_trades_first_then_the_excess_fills_us_partially() -> None:
    book, _ = at_snapshot((10, TRADE, BUY, 101, 4), (20, TRADE, BUY, 101, 3), (30, TRADE, BUY, 101, 5))
    assert filled(book) == [(20, 2, 101), (30, 1, 101)]


def test_a_one_lot_trade_through_our_price_fills_one_lot_not_all() -> None:
    book, order = at_snapshot((10, TRADE, BUY, 102, 1))
    assert filled(book) == [(10, 1, 101)]
    assert book.remaining(order) == 2


def test_a_touch_or_a_sell_trade_never_fills_a_resting_sell() -> None:
    book, _ = at_snapshot(
        (10, LEVEL, ASK, 101, 0),
        (11, LEVEL, BID, 101, 4),
        (12, TRADE, SELL, 101, 4),
        (13, TRADE, SELL, 100, 9),
    )
    assert filled(book) == []


def test_an_update_before_its_match_is_not_counted_twice() -> None:
    """The level shrinks 5 -> 1 (the trade's l2update first), then the 4-lot match prints: the
    queue ahead went 5 -> 1 with the update; the match moves it by nothing more."""
    book, order = at_snapshot((10, LEVEL, ASK, 101, 1), (20, TRADE, BUY, 101, 4))
    assert filled(book) == []
    assert book.queue_ahead(order) == 1


def test_a_match_before_its_update_is_not_counted_twice() -> None:
    book, order = at_snapshot((10, TRADE, BUY, 101, 4), (20, LEVEL, ASK, 101, 1), (30, TRADE, BUY, 101, 2))
    assert filled(book) == [(30, 1, 101)]
    assert book.remaining(order) == 2


def test_a_shrink_not_followed_by_its_trade_within_the_window_is_cancels_ahead() -> None:
    late = 10 + 250 * MS + 1  # just outside the pairing window of the shrink at 10
    book, _ = at_snapshot((10, LEVEL, ASK, 101, 1), (late, TRADE, BUY, 101, 4))
    assert filled(book) == [(late, 3, 101)]


def test_a_stale_credit_is_forgotten_when_the_level_shrinks_again() -> None:
    """10 ahead; a shrink to 8 (2 credit) that no trade follows, then, a second later, one to 6:
    the credit is the fresh 2 only, so the 4-lot trade behind it moves us by 2 (4 left ahead)
    and an 8-lot trade later fills 4."""
    second = 10**9
    book = CompiledBook(
        tape(
            *snapshot(),
            (0, LEVEL, ASK, 101, 10),
            (10, LEVEL, ASK, 101, 8),
            (second, LEVEL, ASK, 101, 6),
            (second + 1, TRADE, BUY, 101, 4),
            (2 * second, TRADE, BUY, 101, 8),
        )
    )
    book.advance(0)
    order = book.submit(Side.SELL, 101, 9).order
    assert order is not None and book.queue_ahead(order) == 10
    book.advance(second + 1)
    assert book.queue_ahead(order) == 4
    assert filled(book) == [(2 * second, 4, 101)]


def test_size_added_behind_us_and_cancelled_again_does_not_move_us() -> None:
    book, order = at_snapshot((10, LEVEL, ASK, 101, 40), (20, LEVEL, ASK, 101, 5))
    filled(book)
    assert book.queue_ahead(order) == 5


def test_two_orders_fill_in_price_then_time_priority_from_one_trade() -> None:
    book = CompiledBook(tape(*snapshot(), (10, TRADE, BUY, 103, 4)))
    book.advance(0)
    second = book.submit(Side.SELL, 102, 3).order
    first = book.submit(Side.SELL, 101, 2).order
    fills = book.advance().fills
    assert [(f.order, f.lots, f.price) for f in fills] == [(first, 2, 101), (second, 2, 102)]


def test_our_buy_fills_from_sellers_hitting_the_bids() -> None:
    book = CompiledBook(tape(*snapshot(), (10, TRADE, SELL, 99, 7)))
    book.advance(0)
    order = book.submit(Side.BUY, 99, 4).order
    assert filled(book) == [(10, 2, 99)]
    assert book.remaining(order) == 2


def test_a_crossing_order_takes_the_displayed_levels_and_the_rest_rests() -> None:
    book = CompiledBook(tape(*snapshot(), (10, LEVEL, ASK, 101, 6)))
    book.advance(0)
    placed = book.submit(Side.BUY, 101, 8)
    assert placed.taken == (TakerFill(101, 5),)
    assert (book.best_ask(), book.displayed(Side.SELL)[101]) == (102, 5)  # consumed until the feed says
    assert placed.order is not None and book.remaining(placed.order) == 3
    book.advance()
    assert book.best_ask() == 101  # the feed's update replaces what we took
    market = book.submit(Side.SELL, None, 20)
    assert (market.order, market.taken) == (None, (TakerFill(99, 5), TakerFill(98, 5)))
    assert book.best_bid() is None


def test_a_snapshot_caps_the_queue_ahead_once_its_rows_are_in() -> None:
    book, order = at_snapshot(*snapshot(ts=10)[:3], (10, LEVEL, ASK, 101, 2), (11, TRADE, BUY, 101, 3))
    assert filled(book) == [(11, 1, 101)]
    assert book.remaining(order) == 2


def test_cancel_returns_what_was_left_once() -> None:
    book, order = at_snapshot()
    assert book.cancel(order) == 3
    assert book.cancel(order) is None
    assert book.remaining(order) is None
    assert book.resting() == []


def test_the_venue_tickers_are_checked_against_the_displayed_book() -> None:
    good = tape(*snapshot(), (10, BBO, 0, 99, 1), aux=101)
    bad = tape(*snapshot(), (10, BBO, 0, 99, 1), aux=102)
    stale = tape(*snapshot(), (10, BBO, 0, 99, 0), aux=102)
    stats = []
    for t in (good, bad, stale):
        book = CompiledBook(t)
        book.advance()
        stats.append((book.stats.bbo_compared, book.stats.bbo_mismatches))
    assert stats == [(1, 0), (1, 1), (0, 0)]


def test_advance_stops_at_until_at_a_fill_at_a_best_change_and_at_the_end() -> None:
    book, _ = at_snapshot(
        (10, LEVEL, BID, 97, 3),  # deep: the best does not move
        (20, LEVEL, BID, 100, 3),  # the best bid moves
        (30, TRADE, BUY, 102, 1),  # fills us
        (40, LEVEL, ASK, 103, 1),
    )
    assert book.advance(15).reason is StopReason.UNTIL
    assert book.next_time_ns() == 20
    best = book.advance(stop_on_best_change=True)
    assert (best.reason, best.rows, book.best_bid()) == (StopReason.BEST, 1, 100)
    fill = book.advance()
    assert (fill.reason, fill.fills) == (StopReason.FILL, (BookFill(7, 30, 1, 1, 101, Side.BUY),))
    assert book.advance(max_rows=1).reason is StopReason.END
    assert book.exhausted and book.next_time_ns() is None


def test_feed_latency_shifts_the_tape_earlier() -> None:
    book = CompiledBook(tape(*snapshot(ts=100)), feed_latency_ns=60)
    assert book.next_time_ns() == 40
    assert book.advance(39).rows == 0
    assert book.advance(40).rows == 5


def test_a_restored_checkpoint_carries_on_exactly_as_the_book_it_was_taken_from() -> None:
    later = [(10, LEVEL, ASK, 101, 2), (20, TRADE, BUY, 101, 4), (30, TRADE, BUY, 101, 3)]
    book, order = at_snapshot(*later)
    book.advance(10)
    copy = CompiledBook.restore(book.tape, book.checkpoint())
    assert copy.queue_ahead(order) == book.queue_ahead(order) == 2
    # the shrink to 2 moved us up 3, which the 4-lot trade then explains: 1 ahead, so 2 fill at 30
    expected = [(30, 2, 101)]
    assert filled(copy) == expected
    assert filled(book) == expected


def test_checkpoints_in_one_pass_equal_books_advanced_to_each_time() -> None:
    t = tape(*snapshot(), (10, LEVEL, ASK, 101, 2), (20, LEVEL, BID, 100, 1), (30, CLEAR, 0, 0, 0))
    for when, point in zip([25, 5, 35], checkpoints(t, [25, 5, 35]), strict=True):
        fresh = CompiledBook(t)
        fresh.advance(when)
        restored = CompiledBook.restore(t, point)
        assert point.cursor == fresh.cursor
        assert (restored.best_bid(), restored.best_ask()) == (fresh.best_bid(), fresh.best_ask())
        assert restored.displayed(Side.SELL) == fresh.displayed(Side.SELL)


def test_far_levels_and_prices_without_level_rows_are_handled() -> None:
    book = CompiledBook(tape(*snapshot(), (10, LEVEL, ASK, 20_000_000, 1), (20, LEVEL, ASK, 101, 0)))
    book.advance()
    assert book.best_ask() == 102
    order = book.submit(Side.SELL, 5_000_000, 2).order  # no level row ever had this price
    assert order is not None and book.queue_ahead(order) == 0


def test_volume_counts_messages_not_rows_and_leaves_tickers_out() -> None:
    t = tape(
        *snapshot(),  # one message, four level rows
        (10, LEVEL, BID, 99, 4),  # one diff of two rows
        (10, LEVEL, ASK, 103, 1),
        (11, BBO, 0, 99, 1),  # a ticker: not a message here
        (12, TRADE, BUY, 101, 1),
        (12, TRADE, BUY, 102, 1),  # two trades, two messages
        (13, LEVEL, ASK, 101, 0),  # another diff
    )
    assert t.volume() == Volume(messages=5, level_rows=7)
    assert t.volume(start=5) == Volume(messages=4, level_rows=3)


def test_a_tape_of_other_rows_or_out_of_order_rows_is_refused_in_one_line() -> None:
    with pytest.raises(MakerfirstError, match="EVENT_DTYPE"):
        BookTape.from_rows(np.zeros(3, np.int64), SCALE)
    rows = np.array([(5, 0, LEVEL, BID, 99, 1, 0), (4, 0, LEVEL, BID, 98, 1, 0)], EVENT_DTYPE)
    with pytest.raises(MakerfirstError, match="time order"):
        BookTape.from_rows(rows, SCALE)


def test_a_checkpoint_of_another_tape_is_refused() -> None:
    point = CompiledBook(tape(*snapshot())).checkpoint()
    with pytest.raises(MakerfirstError, match="another tape"):
        CompiledBook.restore(tape((0, LEVEL, BID, 50, 1)), point)


def test_orders_beyond_the_initial_capacity_all_rest() -> None:
    book = CompiledBook(tape(*snapshot(), (10, TRADE, BUY, 200, 1000)), order_capacity=1)
    book.advance(0)
    orders = [book.submit(Side.SELL, 110 + i, 1).order for i in range(20)]
    fills = book.advance().fills
    assert [f.order for f in fills] == orders


# -- against the oracle, event by event -------------------------------------------------------------


@dataclass
class Twins:
    """The compiled book and ReplayBook fed the same rows and the same orders."""

    tape: BookTape
    book: CompiledBook
    oracle: ReplayBook = field(default_factory=ReplayBook)
    ids: dict[int, str] = field(default_factory=dict)  # compiled handle -> oracle id
    fills: list[tuple[int, str, int, int]] = field(default_factory=list)  # (ns, id, lots, price)
    oracle_fills: list[tuple[int, str, int, int]] = field(default_factory=list)
    placed: int = 0
    feed_latency_ns: int = 0
    kernels: ModuleType | None = None  # what runs the compiled book (default: this machine's)

    def row(self) -> None:
        """Apply the next row to both; compare what it did and why the compiled book stopped."""
        i = self.book.cursor
        t = self.tape
        now = int(t.ts_ns[i]) - self.feed_latency_ns
        matches = self.oracle.apply(
            int(t.kind[i]), int(t.side[i]), int(t.price[i]), int(t.size[i]), int(t.aux[i]), now=now / 1e9
        )
        self.oracle_fills += [(now, m.maker_order_id, m.lots, m.price) for m in matches]
        best = (self.book.best_bid(), self.book.best_ask())
        got = self.book.advance(max_rows=1, stop_on_best_change=True)
        assert got.rows == 1
        self.fills += [(f.ts_ns, self.ids[f.order], f.lots, f.price) for f in got.fills]
        assert [f.row for f in got.fills] == [i] * len(got.fills)
        assert self.fills == self.oracle_fills, f"fills differ after row {i}"
        if got.fills:
            expected = StopReason.FILL
        elif (self.book.best_bid(), self.book.best_ask()) != best:
            expected = StopReason.BEST
        else:
            expected = StopReason.END if self.book.exhausted else StopReason.ROWS
        assert got.reason is expected

    def submit(self, side: Side, price: int | None, lots: int, rest: bool) -> None:
        self.placed += 1
        order_id = f"o{self.placed}"
        expected = self.oracle.submit(order_id, side, price, lots, ours=True, rest=rest)
        placed = self.book.submit(side, price, lots, rest=rest)
        assert placed.taken == tuple(TakerFill(m.price, m.lots) for m in expected)
        assert (placed.order is not None) == (self.oracle.resting(order_id) is not None)
        if placed.order is not None:
            self.ids[placed.order] = order_id

    def cancel(self, pick: int) -> None:
        if not self.ids:
            return
        handle = sorted(self.ids)[pick % len(self.ids)]
        assert self.book.cancel(handle) == self.oracle.cancel(self.ids[handle])

    def restore(self) -> None:
        """Swap the compiled book for one restored from its own checkpoint."""
        self.book = CompiledBook.restore(self.tape, self.book.checkpoint(), kernels=self.kernels)

    def check_book(self) -> None:
        book, oracle = self.book, self.oracle
        assert (book.best_bid(), book.best_ask()) == (oracle.best_bid(), oracle.best_ask())
        for side in Side:
            assert book.levels(side, 4) == oracle.levels(side, 4)
            assert book.displayed(side) == oracle.displayed(side)
        for handle, order_id in self.ids.items():
            resting = oracle.resting(order_id)
            assert book.remaining(handle) == (None if resting is None else resting.remaining)
            if resting is not None:
                assert book.queue_ahead(handle) == oracle.queue_ahead(order_id)
        s = oracle.stats
        assert book.stats.trades == s.trades and book.stats.level_updates == s.level_updates
        assert (book.stats.bbo_compared, book.stats.bbo_mismatches) == (s.bbo.compared, s.bbo.mismatches)


STEP_NS = 125 * MS  # exact in float seconds, so the oracle's 0.25 s window is two steps in both
_prices = st.integers(96, 104)
_book_row = st.tuples(st.just(LEVEL), st.sampled_from([BID, ASK]), _prices, st.integers(0, 6))
_trade_row = st.tuples(st.just(TRADE), st.sampled_from([BUY, SELL]), st.integers(98, 103), st.integers(0, 8))
_bbo_row = st.tuples(st.just(BBO), st.just(0), _prices, st.sampled_from([0, 1]))
_row = st.one_of(_book_row, _book_row, _trade_row, _trade_row, _bbo_row)
_submit = st.tuples(
    st.just("submit"),
    st.sampled_from(list(Side)),
    st.one_of(st.integers(99, 102), st.integers(95, 105), st.none()),  # 95, 105: never a level row
    st.integers(1, 8),
    st.booleans(),
)
_action = st.one_of(
    _submit,
    _submit,
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("restore")),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BookTape, list[tuple[object, ...]]]:
    """Rows (with snapshots now and then) and our actions interleaved between them."""
    specs: list[Spec] = []
    steps: list[tuple[object, ...]] = []
    ts = 0
    for _ in range(draw(st.integers(5, 80))):
        ts += STEP_NS * draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
        if draw(st.integers(0, 15)) == 0:  # a snapshot: CLEAR, then its levels at the same time
            levels = draw(st.lists(_book_row, min_size=1, max_size=6))
            block = [(ts, CLEAR, 0, 0, 0)] + [(ts, LEVEL, side, p, max(q, 1)) for _, side, p, q in levels]
        else:
            kind, side, price, size = draw(_row)
            block = [(ts, kind, side, price, size)]
        for spec in block:
            specs.append(spec)
            steps.append(("row",))
        steps += draw(st.lists(_action, max_size=2))
    aux = draw(_prices)
    return tape(*specs, aux=aux), steps


@pytest.mark.parametrize("which", ["native", "jit"])
@settings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from([0, 0, STEP_NS]))
def test_the_compiled_book_matches_the_oracle_event_by_event(
    which: str, scenario: tuple[BookTape, list[tuple[object, ...]]], feed_latency_ns: int
) -> None:
    """On both builds of the kernels: the extension compiled ahead of time for this machine and
    numba's JIT (what runs where the extension cannot be built)."""
    t, steps = scenario
    k = native.kernels() if which == "native" else native.jit_kernels()
    book = CompiledBook(t, order_capacity=2, feed_latency_ns=feed_latency_ns, kernels=k)
    twins = Twins(t, book, feed_latency_ns=feed_latency_ns, kernels=k)
    for step in steps:
        match step:
            case ("row",):
                twins.row()
            case ("submit", Side() as side, price, int(lots), bool(rest)):
                twins.submit(side, price if isinstance(price, int) else None, lots, rest)
            case ("cancel", int(pick)):
                twins.cancel(pick)
            case ("restore",):
                twins.restore()
        twins.check_book()
    # The same orders, with the tape applied in as few advance() calls as the fills allow.
    chunked = CompiledBook(t, order_capacity=2, feed_latency_ns=feed_latency_ns, kernels=k)
    handles: list[int] = []
    fills: list[tuple[int, int, int, int]] = []
    pending = 0
    for step in [*steps, ("flush",)]:
        if step == ("row",):
            pending += 1
            continue
        while pending:
            done = chunked.advance(max_rows=pending)
            pending -= done.rows
            fills += [(f.ts_ns, f.order, f.lots, f.price) for f in done.fills]
        match step:
            case ("submit", Side() as side, price, int(lots), bool(rest)):
                placed = chunked.submit(side, price if isinstance(price, int) else None, lots, rest=rest)
                if placed.order is not None:
                    handles.append(placed.order)
            case ("cancel", int(pick)) if handles:
                chunked.cancel(sorted(handles)[pick % len(handles)])
    assert [(ts, twins.ids[h], q, p) for ts, h, q, p in fills] == twins.oracle_fills


def _book_arrays(book: CompiledBook) -> tuple[np.ndarray, ...]:
    n = int(book._state[kernels.ST_N_TOUCHED])
    return (book._state, book._lv, book._touched_flag, book._touched[:n])


def assert_same_book(catch_up: CompiledBook, advanced: CompiledBook) -> None:
    """Every array of the two books' states equal (the touched list in its order too)."""
    for mine, theirs in zip(_book_arrays(catch_up), _book_arrays(advanced), strict=True):
        np.testing.assert_array_equal(mine, theirs)


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from([0, STEP_NS]), st.lists(st.integers(0, 120), max_size=6))
def test_the_catch_up_pass_leaves_the_state_advance_leaves(
    scenario: tuple[BookTape, list[tuple[object, ...]]], feed_latency_ns: int, stops: list[int]
) -> None:
    """The catch-up kernel (no orders of ours) against advance(), row for row the same state:
    snapshots mid-tape, resyncs, emptied best levels, venue tickers, a feed latency."""
    t, _ = scenario
    fast = CompiledBook(t, feed_latency_ns=feed_latency_ns)
    slow = CompiledBook(t, feed_latency_ns=feed_latency_ns)
    for stop in [*sorted(stops), len(t) + 5]:
        fast.catch_up(stop)
        slow.advance(max_rows=max(0, min(stop, len(t)) - slow.cursor))
        assert_same_book(fast, slow)
        assert fast.stats == slow.stats


def test_the_catch_up_pass_rescans_an_emptied_best_to_the_last_live_level() -> None:
    """The best ask emptied with the next live ask the highest level seen (and the bid mirror)."""
    t = tape(
        (0, CLEAR, 0, 0, 0),
        (0, LEVEL, BID, 98, 5),
        (0, LEVEL, BID, 99, 5),
        (0, LEVEL, ASK, 101, 5),
        (0, LEVEL, ASK, 102, 5),
        (1, LEVEL, ASK, 101, 0),
        (2, LEVEL, BID, 99, 0),
    )
    fast, slow = CompiledBook(t), CompiledBook(t)
    fast.catch_up(len(t))
    slow.advance()
    assert_same_book(fast, slow)
    assert (fast.best_bid(), fast.best_ask()) == (98, 102)


@pytest.mark.parametrize("seed", range(12))
def test_the_catch_up_pass_equals_advance_on_long_random_tapes(seed: int) -> None:
    """Thousands of rows over a wide price range, snapshots now and then, tickers right and wrong."""
    rng = np.random.default_rng(seed)
    n = 4000
    kind = rng.choice([LEVEL, LEVEL, LEVEL, TRADE, BBO], n)
    kind[rng.integers(0, n, 4)] = CLEAR
    kind[0] = CLEAR
    rows = np.zeros(n, EVENT_DTYPE)
    rows["ts_ns"] = np.cumsum(rng.integers(0, 3, n)) * MS
    rows["kind"] = kind
    rows["side"] = rng.choice([BID, ASK], n)
    rows["price"] = rng.integers(900, 1100, n)
    rows["size"] = np.where(rng.random(n) < 0.3, 0, rng.integers(1, 50, n))
    rows["size"][kind == BBO] = rng.integers(0, 2, int((kind == BBO).sum()))
    rows["aux"][kind == BBO] = rng.integers(900, 1100, int((kind == BBO).sum()))
    t = BookTape.from_rows(rows, SCALE)
    fast, slow = CompiledBook(t), CompiledBook(t)
    for stop in [*sorted(rng.integers(0, n, 8).tolist()), n]:
        fast.catch_up(stop)
        slow.advance(max_rows=max(0, stop - slow.cursor))
        assert_same_book(fast, slow)


def test_catch_up_refuses_a_book_holding_our_orders() -> None:
    book, _ = at_snapshot((10, LEVEL, ASK, 101, 2))
    with pytest.raises(MakerfirstError, match="without our orders"):
        book.catch_up(len(book.tape))


def test_the_catch_up_pass_equals_advance_on_the_btcusdt_capture(tmp_path: Path) -> None:
    t = capture_tape(BINANCE_BTCUSDT / "btcusdt_20240808.gz", "BTCUSDT", tmp_path)
    fast, slow = CompiledBook(t), CompiledBook(t)
    for stop in np.linspace(0, len(t), 7).astype(int).tolist():
        fast.catch_up(stop)
        slow.advance(max_rows=stop - slow.cursor)
        assert_same_book(fast, slow)
    assert slow.exhausted


# -- on the shared captures -----------------------------------------------------------------------


def capture_tape(path: Path, product_id: str, tmp_path: Path) -> BookTape:
    if not path.is_file():
        pytest.skip(f"real capture {path} is absent (set MAKERFIRST_DATA_DIR to the shared data folder)")
    return BookTape.from_stream(read_capture(path, cache_dir=tmp_path), product_id)


def quote_both_sides(
    t: BookTape, every_ns: int, start_ns: int | None = None
) -> tuple[list[tuple[int, str, int, int]], list[tuple[int, str, int, int]]]:
    """Every ``every_ns`` a sell at the best ask, one a tick above it and a buy at the best bid, each
    cancelled after three rounds; the compiled book advanced between them with fill stops, the
    oracle row by row. With ``start_ns``, quoting starts then: the compiled book restored from a
    checkpoint taken at that time, the oracle replaying the prefix. Returns both fill lists (ns,
    order, lots, price)."""
    oracle = ReplayBook()
    ids: dict[int, str] = {}
    live: list[tuple[int, int]] = []  # (round placed, handle)
    ours: list[tuple[int, str, int, int]] = []
    theirs: list[tuple[int, str, int, int]] = []
    i = 0
    if start_ns is None:
        book, start = CompiledBook(t), int(t.ts_ns[0])
    else:
        book, start = CompiledBook.restore(t, checkpoints(t, [start_ns])[0]), start_ns
        while int(t.ts_ns[i]) <= start_ns:
            oracle.apply(
                int(t.kind[i]),
                int(t.side[i]),
                int(t.price[i]),
                int(t.size[i]),
                int(t.aux[i]),
                now=int(t.ts_ns[i]) / 1e9,
            )
            i += 1
        assert book.cursor == i
        for side in Side:
            assert book.displayed(side) == oracle.displayed(side)
    lot = max(1, int(np.median(t.size[t.kind == TRADE])))
    for r in range(1, int((int(t.ts_ns[-1]) - start) // every_ns) + 2):
        until = start + r * every_ns
        while i < len(t) and int(t.ts_ns[i]) <= until:
            ts = int(t.ts_ns[i])
            for m in oracle.apply(
                int(t.kind[i]), int(t.side[i]), int(t.price[i]), int(t.size[i]), int(t.aux[i]), now=ts / 1e9
            ):
                theirs.append((ts, m.maker_order_id, m.lots, m.price))
            i += 1
        while True:
            done = book.advance(until)
            ours += [(f.ts_ns, ids[f.order], f.lots, f.price) for f in done.fills]
            if done.reason is not StopReason.FILL:
                break
        assert (book.best_bid(), book.best_ask()) == (oracle.best_bid(), oracle.best_ask())
        for placed_round, handle in [o for o in live if o[0] <= r - 3]:
            assert book.cancel(handle) == oracle.cancel(ids[handle])
            live.remove((placed_round, handle))
        bid, ask = book.best_bid(), book.best_ask()
        quotes = [(Side.SELL, ask), (Side.SELL, None if ask is None else ask + 1), (Side.BUY, bid)]
        for n, (side, price) in enumerate(quotes):
            if price is None or book.would_cross(side, price):
                continue
            order_id = f"r{r}-{n}"
            oracle.submit(order_id, side, price, lot * (n + 1), ours=True, rest=True)
            handle = book.submit(side, price, lot * (n + 1)).order
            assert handle is not None
            assert book.queue_ahead(handle) == oracle.queue_ahead(order_id)
            ids[handle] = order_id
            live.append((r, handle))
    return ours, theirs


def test_the_compiled_book_matches_the_oracle_on_the_btcusdt_capture(tmp_path: Path) -> None:
    t = capture_tape(BINANCE_BTCUSDT / "btcusdt_20240808.gz", "BTCUSDT", tmp_path)
    ours, theirs = quote_both_sides(t, 2 * 10**9)
    assert len(theirs) > 100  # the comparison is about many fills, not none
    assert ours == theirs


def test_a_book_restored_at_an_arrival_goes_on_as_the_oracle_that_replayed_the_prefix(tmp_path: Path) -> None:
    t = capture_tape(BINANCE_BTCUSDT / "btcusdt_20240808.gz", "BTCUSDT", tmp_path)
    arrival = int(t.ts_ns[0]) + 200 * 10**9
    ours, theirs = quote_both_sides(t, 2 * 10**9, start_ns=arrival)
    assert len(theirs) > 50
    assert ours == theirs


@pytest.mark.parametrize("product_id", ["SKL-USD", "NU-GBP", "BAND-BTC"])
def test_the_compiled_book_matches_the_oracle_on_the_coinbase_capture(
    tmp_path: Path, product_id: str
) -> None:
    t = capture_tape(COINBASE_THIN / "ws-feed.txt", product_id, tmp_path)
    ours, theirs = quote_both_sides(t, 10**9)
    assert ours == theirs
    if product_id == "SKL-USD":
        assert theirs  # the busiest product trades with our quotes


# -- looking ahead for a book condition (the replay venue's wake-ups) -----------------------------
def _meets(best_bid: int | None, best_ask: int | None, ask_below: int | None, bid_above: int | None) -> bool:
    return (ask_below is not None and best_ask is not None and best_ask < ask_below) or (
        bid_above is not None and best_bid is not None and best_bid > bid_above
    )


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_the_look_ahead_finds_the_first_row_that_brings_the_condition_about_as_the_oracle_does(
    scenario: tuple[BookTape, list[tuple[object, ...]]], data: st.DataObject
) -> None:
    t, _ = scenario
    n = len(t)
    cut = data.draw(st.integers(0, n), label="cut")
    ask_below = data.draw(st.one_of(st.none(), st.integers(96, 105)), label="ask_below")
    bid_above = data.draw(st.one_of(st.none(), st.integers(95, 104)), label="bid_above")
    taker = data.draw(st.one_of(st.none(), st.tuples(st.sampled_from(list(Side)), st.integers(1, 8))))
    book = CompiledBook(t)
    oracle = ReplayBook()
    market = ReplayMarket(ProductTape(SCALE, t_rows(t)), oracle)
    while book.cursor < cut:  # no orders of ours: nothing fills, so this is a plain replay
        book.advance(max_rows=cut - book.cursor)
    for _ in range(cut):
        market.step(oracle)
    if taker is not None:  # our taker empties levels until the feed updates them
        book.submit(taker[0], None, taker[1], rest=False)
        oracle.submit("t", taker[0], None, taker[1], ours=True, rest=False)
    found = book.first_row_meeting(ask_below, bid_above, n)
    seen = market.first_time_meeting(ask_below, bid_above, float("inf"))
    # Ground truth: the real book, one row at a time.
    expected = None
    if not _meets(book.best_bid(), book.best_ask(), ask_below, bid_above):
        cursor = book.cursor
        while book.cursor < n:
            book.advance(max_rows=1)
            if _meets(book.best_bid(), book.best_ask(), ask_below, bid_above):
                expected = book.cursor - 1
                break
        assert book.cursor >= cursor
    assert found == expected
    assert seen == (None if expected is None else int(t.ts_ns[expected]) / 1e9)


def t_rows(t: BookTape) -> np.ndarray:
    rows = np.zeros(len(t), EVENT_DTYPE)
    for name, column in (
        ("ts_ns", t.ts_ns),
        ("kind", t.kind),
        ("side", t.side),
        ("price", t.price),
        ("size", t.size),
        ("aux", t.aux),
    ):
        rows[name] = column
    return rows


def test_a_kernel_without_a_writable_cache_folder_compiles_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """numba refuses ``cache=True`` where no cache folder is writable (a read-only install, no
    home); the kernels then compile when first called instead of failing the import."""
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # no folder anywhere

    def twice(x: int) -> int:
        return 2 * x

    refuses = njit(cache=True)
    with pytest.raises(RuntimeError, match="no locator"):
        refuses(twice)
    compiled = kernels._compiler(cache=True, nogil=True)(twice)
    assert compiled(21) == 42
