"""The fast replay kernel's conservative queue model, on hand-built rows and against a slow reference.

Our order is a post-only SELL; ``BUY`` trades are buyers lifting asks. Prices in ticks, sizes in lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.replay.events import ASK, BBO, BID, BUY, CLEAR, EVENT_DTYPE, LEVEL, SELL, TRADE
from makerfirst.replay.fast import Outcome, RestingSellResult, replay_resting_sell
from makerfirst.replay.readers import read_capture
from simkit import BINANCE_BTCUSDT

Row = tuple[int, int, int, int, int, int, int]  # ts, product, kind, side, price, size, aux


def rows(*spec: tuple[int, int, int, int, int]) -> np.ndarray:
    """Rows of product 0 from (ts, kind, side, price, size)."""
    return np.array(
        [(ts, 0, kind, side, price, size, 0) for ts, kind, side, price, size in spec], EVENT_DTYPE
    )


def book(ts: int = 0) -> list[tuple[int, int, int, int, int]]:
    """A snapshot: bids 98 (5), 99 (5); asks 101 (5), 102 (7)."""
    return [
        (ts, CLEAR, 0, 0, 0),
        (ts, LEVEL, BID, 98, 5),
        (ts, LEVEL, BID, 99, 5),
        (ts, LEVEL, ASK, 101, 5),
        (ts, LEVEL, ASK, 102, 7),
    ]


def sell(events: np.ndarray, price: int = 101, size: int = 3, placed_ns: int = 10) -> RestingSellResult:
    return replay_resting_sell(events, product=0, price_ticks=price, size_lots=size, placed_ns=placed_ns)


def test_we_join_behind_the_displayed_size() -> None:
    result = sell(rows(*book()))
    assert (result.outcome, result.queue_ahead_at_entry_lots, result.filled_lots) == (Outcome.RESTING, 5, 0)
    assert result.events_processed == 5
    assert (result.final_best_bid_ticks, result.final_best_ask_ticks) == (99, 101)


def test_the_rebuilt_book_tracks_best_prices_as_levels_come_and_go() -> None:
    events = rows(
        *book(),
        (1, LEVEL, ASK, 50, 0),  # a delete of a level that never was
        (2, LEVEL, BID, 99, 0),
        (3, LEVEL, ASK, 101, 0),
        (4, LEVEL, ASK, 100_000, 1),  # a far level
    )
    result = sell(events, price=103)
    assert (result.final_best_bid_ticks, result.final_best_ask_ticks) == (98, 102)
    emptied = sell(rows(*book(), (1, LEVEL, BID, 99, 0), (2, LEVEL, BID, 98, 0), (3, LEVEL, ASK, 97, 1)))
    assert (emptied.final_best_bid_ticks, emptied.final_best_ask_ticks) == (None, 97)
    cleared = sell(rows(*book(), (1, CLEAR, 0, 0, 0), (2, LEVEL, ASK, 104, 1)), placed_ns=0)
    assert (cleared.final_best_bid_ticks, cleared.final_best_ask_ticks) == (None, 104)


def test_a_touch_without_a_trade_never_fills() -> None:
    result = sell(
        rows(
            *book(),
            (20, LEVEL, ASK, 101, 0),  # everyone ahead cancels: we are the best ask, at the front
            (21, LEVEL, BID, 100, 9),  # bids climb right up to us
            (22, LEVEL, BID, 101, 4),  # and even onto our price
            (23, TRADE, SELL, 101, 4),  # a seller hits that bid: not a buyer lifting us
        )
    )
    assert (result.outcome, result.filled_lots, result.first_fill_ns) == (Outcome.RESTING, 0, None)


def test_the_queue_ahead_is_consumed_before_us() -> None:
    result = sell(
        rows(
            *book(),
            (20, TRADE, BUY, 101, 4),  # 1 left ahead
            (21, TRADE, BUY, 101, 3),  # 1 to the queue, 2 to us
            (22, TRADE, BUY, 101, 5),  # our last lot
        )
    )
    assert (result.outcome, result.filled_lots) == (Outcome.FILLED, 3)
    assert (result.first_fill_ns, result.filled_ns) == (21, 22)


def test_a_partial_fill_is_capped_by_the_trade_size() -> None:
    result = sell(rows(*book(), (20, TRADE, BUY, 101, 6)), size=3)
    assert (result.outcome, result.filled_lots, result.first_fill_ns) == (Outcome.RESTING, 1, 20)


def test_size_added_at_our_level_after_us_does_not_delay_us() -> None:
    result = sell(rows(*book(), (20, LEVEL, ASK, 101, 50), (21, TRADE, BUY, 101, 8)))
    assert (result.outcome, result.filled_lots) == (Outcome.FILLED, 3)


def test_cancels_at_our_level_do_not_advance_us() -> None:
    events = rows(
        *book(),
        (20, LEVEL, ASK, 101, 40),  # 35 join behind us
        (21, LEVEL, ASK, 101, 5),  # 35 cancel: from behind us, so 5 still ahead
        (22, TRADE, BUY, 101, 5),  # eats exactly the queue ahead
    )
    result = sell(events)
    assert (result.outcome, result.filled_lots) == (Outcome.RESTING, 0)


def test_a_level_that_shrinks_below_the_queue_ahead_caps_it() -> None:
    """RiskAverse: the queue ahead can't exceed the displayed size; the rest left from ahead of us."""
    result = sell(rows(*book(), (20, LEVEL, ASK, 101, 2), (21, TRADE, BUY, 101, 4)))
    assert result.filled_lots == 2


def test_a_trade_through_our_price_fills_all_that_remains() -> None:
    result = sell(rows(*book(), (20, TRADE, BUY, 102, 1)), size=3)
    assert (result.outcome, result.filled_lots, result.filled_ns) == (Outcome.FILLED, 3, 20)


def test_trades_before_we_are_placed_do_not_count() -> None:
    result = sell(rows(*book(), (5, TRADE, BUY, 102, 1), (10, TRADE, BUY, 101, 5)), placed_ns=10)
    assert (result.outcome, result.filled_lots) == (Outcome.RESTING, 0)


def test_post_only_is_rejected_when_the_bid_reaches_our_price() -> None:
    result = sell(rows(*book(), (5, LEVEL, BID, 101, 1)), price=101)
    assert result.outcome is Outcome.REJECTED_WOULD_CROSS
    assert sell(rows(*book()), price=100).outcome is Outcome.RESTING  # inside the spread: fine


def test_an_order_placed_before_any_snapshot_has_no_book() -> None:
    result = sell(rows(*book(ts=20), (30, TRADE, BUY, 102, 9)))
    assert (result.outcome, result.filled_lots) == (Outcome.NO_BOOK, 0)


def test_other_products_rows_are_ignored_but_counted() -> None:
    mine = rows(*book())
    other = mine.copy()
    other["product"] = 1
    other["ts_ns"] = 15
    trade = np.array([(16, 1, TRADE, BUY, 500, 9, 0)], EVENT_DTYPE)
    result = sell(np.concatenate([mine, other, trade]))
    assert (result.outcome, result.filled_lots, result.events_processed) == (Outcome.RESTING, 0, 11)


def test_stop_when_done_returns_at_the_completing_fill() -> None:
    events = rows(*book(), (20, TRADE, BUY, 102, 1), (30, LEVEL, ASK, 103, 1))
    result = replay_resting_sell(
        events, product=0, price_ticks=101, size_lots=3, placed_ns=10, stop_when_done=True
    )
    assert (result.outcome, result.events_processed) == (Outcome.FILLED, 6)


def test_rejects_rows_of_another_dtype() -> None:
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        replay_resting_sell(np.zeros(3, np.int64), product=0, price_ticks=1, size_lots=1, placed_ns=0)


# -- against a slow, plain reference --------------------------------------------------------------


@dataclass
class Reference:
    """The queue model written the obvious way: dict books, one row at a time."""

    product: int
    price: int
    size: int
    placed_ns: int
    stop_when_done: bool

    def run(self, events: list[Row]) -> RestingSellResult:  # noqa: PLR0912 - one plain loop, on purpose
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        have_book = placed = active = False
        outcome, ahead, entry, remaining = Outcome.RESTING, 0, 0, self.size
        first: int | None = None
        done: int | None = None
        for i in range(len(events) + 1):
            if not placed and (i == len(events) or events[i][0] >= self.placed_ns):
                placed = True
                if not have_book:
                    outcome = Outcome.NO_BOOK
                elif bids and max(bids) >= self.price:
                    outcome = Outcome.REJECTED_WOULD_CROSS
                else:
                    active, ahead = True, asks.get(self.price, 0)
                    entry = ahead
                if not active and self.stop_when_done:
                    return RestingSellResult(i, outcome, entry, 0, None, None, *self.best(bids, asks))
            if i == len(events):
                break
            ts, product, kind, side, price, size, _ = events[i]
            if product != self.product:
                continue
            if kind == CLEAR:
                bids, asks, have_book = {}, {}, True
            elif kind == LEVEL:
                levels = bids if side == BID else asks
                if size:
                    levels[price] = size
                else:
                    levels.pop(price, None)
                if active and side == ASK and price == self.price:
                    ahead = min(ahead, size)
            elif kind == TRADE and active and side == BUY and price >= self.price:
                if price > self.price:
                    fill = remaining
                else:
                    taken = min(ahead, size)
                    ahead -= taken
                    fill = min(remaining, size - taken)
                if fill:
                    remaining -= fill
                    first = ts if first is None else first
                    if remaining == 0:
                        active, outcome, done = False, Outcome.FILLED, ts
                        if self.stop_when_done:
                            best = self.best(bids, asks)
                            return RestingSellResult(i + 1, outcome, entry, self.size, first, done, *best)
        best = self.best(bids, asks)
        return RestingSellResult(len(events), outcome, entry, self.size - remaining, first, done, *best)

    @staticmethod
    def best(bids: dict[int, int], asks: dict[int, int]) -> tuple[int | None, int | None]:
        return max(bids, default=None), min(asks, default=None)


_far = st.sampled_from([0, 1, 10_000, 99_999])  # far levels: exercise the ranked part of the layout
_level = st.one_of(
    st.tuples(st.just(LEVEL), st.just(BID), st.one_of(st.integers(97, 101), _far), st.integers(0, 6)),
    st.tuples(st.just(LEVEL), st.just(ASK), st.one_of(st.integers(101, 104), _far), st.integers(0, 6)),
)
_trade = st.tuples(
    st.just(TRADE), st.sampled_from([BUY, BUY, SELL]), st.integers(100, 104), st.integers(0, 6)
)
_other = st.one_of(
    _trade,
    st.tuples(st.just(CLEAR), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.just(BBO), st.just(0), st.integers(95, 101), st.just(1)),
)
_row = st.tuples(
    st.integers(0, 3),  # time step
    st.sampled_from([0, 0, 0, 0, 1]),  # product
    st.one_of(_level, _trade, _level, _other),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Row], int, int, int, bool, int]:
    """A snapshot of product 0 at t=0, then random rows; an order placed anywhere in it."""
    price = draw(st.integers(101, 103))
    size = draw(st.integers(1, 8))
    events: list[Row] = [(0, 0, CLEAR, 0, 0, 0, 0), (0, 0, LEVEL, ASK, price, draw(st.integers(0, 6)), 0)]
    events += [(0, 0, k, side, p, q, 0) for k, side, p, q in draw(st.lists(_level, min_size=4, max_size=20))]
    ts = 0
    for step, product, (kind, side, level_price, level_size) in draw(
        st.lists(_row, min_size=10, max_size=80)
    ):
        ts += step
        events.append((ts, product, kind, side, level_price, level_size, 0))
    before_snapshot = draw(st.sampled_from(range(10))) == 9
    placed = 0 if before_snapshot else draw(st.integers(1, ts + 1))
    return events, price, size, placed, draw(st.booleans()), draw(st.sampled_from([4, 50, 1 << 22]))


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_kernel_matches_the_plain_reference(scenario: tuple[list[Row], int, int, int, bool, int]) -> None:
    events, price, size, placed, stop, dense_max = scenario
    expected = Reference(0, price, size, placed, stop).run(events)
    array = np.array(events, EVENT_DTYPE) if events else np.zeros(0, EVENT_DTYPE)
    for compiled in (True, False):
        got = replay_resting_sell(
            array,
            product=0,
            price_ticks=price,
            size_lots=size,
            placed_ns=placed,
            stop_when_done=stop,
            dense_levels_max=dense_max,
            compiled=compiled,
        )
        assert got == expected, f"compiled={compiled}"


def test_kernel_matches_the_reference_on_the_real_btcusdt_capture(tmp_path: Path) -> None:
    capture = BINANCE_BTCUSDT / "btcusdt_20240808.gz"
    if not capture.is_file():
        pytest.skip(f"real capture {capture} is absent (set MAKERFIRST_DATA_DIR to the shared data folder)")
    events = read_capture(capture, cache_dir=tmp_path).events
    placed = int(events["ts_ns"][0]) + 200 * 10**9
    tickers = events[events["kind"] == BBO]
    best_ask = int(tickers["aux"][np.searchsorted(tickers["ts_ns"], placed)])
    as_rows: list[Row] = events.tolist()
    for price in (best_ask, best_ask + 1):  # 1.45 and 0.08 BTC ahead of us
        got = replay_resting_sell(events, product=0, price_ticks=price, size_lots=50_000, placed_ns=placed)
        assert got == Reference(0, price, 50_000, placed, stop_when_done=False).run(as_rows)
        assert got.queue_ahead_at_entry_lots > 0
        assert got.outcome is Outcome.FILLED  # 79 s later, the price comes back up through them
