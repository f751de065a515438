"""The fair touch: time-weighted medians of the mid and the spread over a window of the books a
loop read, so that a dip shorter than half the window does not move it and one that lasts does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.algorithms.touch_history import TouchHistory
from makerfirst.domain.book import Level, OrderBook

D = Decimal


def book(bid: str, ask: str) -> OrderBook:
    return OrderBook("PENGU-USD", (Level(D(bid), D(10)),), (Level(D(ask), D(10)),), 0.0)


CALM = book("0.014500", "0.014520")  # mid 0.014510, spread 20 ticks
DIP = book("0.014400", "0.014402")  # a sweep: 5 spreads lower, the spread 2 ticks


def history(*timed: tuple[float, OrderBook]) -> TouchHistory:
    touches = TouchHistory()
    for t, b in timed:
        touches.record(t, b)
    return touches


def test_a_dip_shorter_than_half_the_window_leaves_the_fair_touch_where_it_was() -> None:
    touches = history(*[(float(t), CALM) for t in range(20)], *[(20.0 + t, DIP) for t in range(10)])
    fair = touches.fair(now=30.0, window_sec=30.0)  # 20 s calm, 10 s dipped
    assert fair is not None and fair.mid == CALM.mid and fair.spread == D("0.000020")
    assert fair.ask == CALM.best_ask and fair.bid == CALM.best_bid
    lasting = touches.fair(now=50.0, window_sec=30.0)  # the dip has now held 30 s of the last 30
    assert lasting is not None and lasting.mid == DIP.mid


def test_the_median_weighs_time_not_reads() -> None:
    # Ten reads in one second of dip do not outweigh one read that held for 20 s.
    touches = history((0.0, CALM), *[(20.0 + t / 10, DIP) for t in range(10)])
    fair = touches.fair(now=21.0, window_sec=30.0)
    assert fair is not None and fair.mid == CALM.mid and fair.samples == 11


def test_one_read_is_its_own_fair_touch_and_none_is_none() -> None:
    assert TouchHistory().fair(now=5.0, window_sec=30.0) is None
    one = history((5.0, DIP)).fair(now=5.0, window_sec=30.0)
    assert one is not None and one.mid == DIP.mid and one.samples == 1
    # A read older than the window still holds until now: it is the touch the window saw.
    old = history((0.0, CALM)).fair(now=100.0, window_sec=30.0)
    assert old is not None and old.mid == CALM.mid


def test_one_sided_books_are_not_touches_and_time_never_goes_back() -> None:
    touches = history((0.0, CALM))
    touches.record(1.0, OrderBook("PENGU-USD", (), (Level(D("0.014300"), D(1)),), 0.0))
    assert len(touches) == 1
    with pytest.raises(ValueError, match="time went back"):
        touches.record(-0.5, CALM)


def test_old_reads_are_dropped_but_the_one_holding_into_the_window_stays() -> None:
    touches = TouchHistory(kept_sec=60.0)
    for t in range(0, 200, 10):
        touches.record(float(t), CALM if t < 170 else DIP)
    assert len(touches) <= 8  # 60 s of reads every 10 s, and the one before them
    fair = touches.fair(now=190.0, window_sec=60.0)
    assert fair is not None and fair.mid == CALM.mid  # 130..170 calm, 170..190 dipped
    later = touches.fair(now=190.0, window_sec=15.0)
    assert later is not None and later.mid == DIP.mid


@settings(max_examples=200, deadline=None)
@given(
    mids=st.lists(st.integers(14_000, 15_000), min_size=1, max_size=40),
    gaps=st.lists(st.floats(0.01, 5.0), min_size=40, max_size=40),
    window=st.floats(0.5, 120.0),
)
def test_the_fair_mid_is_always_a_mid_that_was_seen_in_or_just_before_the_window(
    mids: list[int], gaps: list[float], window: float
) -> None:
    touches, t, seen = TouchHistory(), 0.0, []
    for mid, gap in zip(mids, gaps, strict=False):
        t += gap
        price = D(mid) / 1_000_000
        touches.record(t, book(str(price - D("0.000001")), str(price + D("0.000001"))))
        seen.append((t, price))
    fair = touches.fair(now=t + 1.0, window_sec=window)
    assert fair is not None and fair.spread == D("0.000002")
    start = t + 1.0 - window
    held = [p for i, (s, p) in enumerate(seen) if i + 1 == len(seen) or seen[i + 1][0] > start]
    assert min(held) <= fair.mid <= max(held)
