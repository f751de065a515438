"""Calibration of synthetic-market parameters from a tape, and the calibration/evaluation split."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerfirst.replay.calibrate import calibrate, hill_alpha
from makerfirst.replay.driver import product_tape
from makerfirst.replay.episodes import Window, split_window
from makerfirst.replay.events import (
    ASK,
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

CAPTURE = COINBASE_THIN


def two_level_tape() -> EventStream:
    """Bid 99/98, ask 101/102 ticks of 0.01 (spread 2 ticks = 200 bps at mid 1.00), 10 lots each;
    in 10 s: two buy takers (one printing twice within 1 ms) and one sell taker."""
    rows = [
        (0.0, CLEAR, 0, 0, 0),
        (0.0, LEVEL, BID, 99, 10),
        (0.0, LEVEL, BID, 98, 10),
        (0.0, LEVEL, ASK, 101, 10),
        (0.0, LEVEL, ASK, 102, 10),
        (2.0, TRADE, BUY, 101, 2),
        (2.0005, TRADE, BUY, 101, 2),
        (4.0, TRADE, SELL, 99, 3),
        (6.0, TRADE, BUY, 101, 1),
        (10.0, LEVEL, BID, 97, 10),
    ]
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    return EventStream((ProductScale("X-USD", Decimal("0.01"), Decimal(1)),), events)


def test_a_hand_built_book_calibrates_to_its_own_numbers() -> None:
    tape = product_tape(two_level_tape(), "X-USD")
    fitted = calibrate(tape, Window(0.0, 10.0), sample_sec=0.5)
    p = fitted.params
    assert p.half_spread_bps == 100.0  # spread 2 ticks at mid 100 ticks
    assert p.level_depth_usd == pytest.approx(10.0, rel=0.02)  # 10 lots × ~1.00 at the touch
    # One level per side lies within 1 % of the mid: 100 bps apart, and the floor of 5 levels applies.
    assert (p.levels, p.level_spacing_bps) == (5, 100.0)
    assert (p.taker_buy_per_sec, p.taker_sell_per_sec) == (0.2, 0.1)  # the 1 ms pair is one taker order
    assert fitted.taker_orders == 3 and fitted.trades == 4
    assert p.vol_per_sqrt_sec == 0.0 and fitted.start_price == Decimal("1.00")
    assert fitted.notes  # too few takers for a tail: the default is stated


def test_hill_estimator_recovers_a_pareto_tail() -> None:
    rng = np.random.default_rng(7)
    sizes = (rng.pareto(1.5, 4000) + 1).tolist()
    alpha = hill_alpha(sizes)
    assert alpha is not None and alpha == pytest.approx(1.5, rel=0.15)


@pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared capture not present")
def test_the_real_thin_book_calibrates_near_the_measured_preset(tmp_path: Path) -> None:
    capture = read_capture(CAPTURE / "ws-feed.txt", cache_dir=tmp_path)
    tape = product_tape(capture, "SKL-USD")
    calibration, _ = split_window(Window(tape.start, tape.end), 0.5)
    p = calibrate(tape, calibration).params
    # docs/thin-capture-stats.txt (whole capture): median spread 12.65 bps, ~2.5 bps per level,
    # taker orders 0.52 buy / 0.78 sell per second, mid volatility 3.6 bps per sqrt(s).
    assert 4.0 < p.half_spread_bps < 10.0
    assert 1.0 < p.level_spacing_bps < 4.0
    assert 0.1 < p.taker_buy_per_sec < 2.0 and 0.05 < p.taker_sell_per_sec < 2.0
    assert 0.0001 < p.vol_per_sqrt_sec < 0.001
