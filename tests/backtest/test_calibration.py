"""Fitting the synthetic market from a tape: each number from the events it names."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerfirst.replay.calibrate import calibrate, fit_hawkes, fit_statistics, knots, params_from
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


def stream_of(rows: list[tuple[float, int, int, int, int]], product: str = "X-USD") -> EventStream:
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    return EventStream((ProductScale(product, Decimal("0.01"), Decimal(1)),), events)


def hand_built_tape() -> EventStream:
    """Bid 99/98, ask 101/102 (ticks of 0.01, 10 lots each: the touch holds ~$10, spread 200 bps)."""
    return stream_of(
        [
            (0.0, CLEAR, 0, 0, 0),
            (0.0, LEVEL, BID, 99, 10),
            (0.0, LEVEL, BID, 98, 10),
            (0.0, LEVEL, ASK, 101, 10),
            (0.0, LEVEL, ASK, 102, 10),
            (2.0, TRADE, BUY, 101, 2),
            (2.0005, TRADE, BUY, 101, 2),  # the same taker order, 0.5 ms later
            (2.001, LEVEL, ASK, 101, 6),  # the trades' own decrease: not a cancel
            (3.0, LEVEL, BID, 99, 15),  # one order joins the touch
            (4.0, TRADE, SELL, 99, 3),
            (4.001, LEVEL, BID, 99, 12),  # explained by the trade
            (5.0, LEVEL, BID, 99, 8),  # nothing traded: a cancel of 4 of 12
            (6.0, TRADE, BUY, 101, 1),
            (6.001, LEVEL, ASK, 101, 5),
            (7.0, LEVEL, BID, 100, 5),  # a bid inside the spread, leaving one tick
            (8.0, LEVEL, BID, 100, 0),  # cancelled whole: the touch goes back to 99
            (9.0, LEVEL, ASK, 102, 7),  # a level behind the touch resized
            (10.0, LEVEL, BID, 97, 10),
        ]
    )


def test_a_hand_built_book_calibrates_to_its_own_events() -> None:
    tape = product_tape(hand_built_tape(), "X-USD")
    fit = fit_statistics(tape, Window(0.0, 10.0), sample_sec=0.5)
    assert (len(fit.adds), len(fit.cancels), len(fit.improves), fit.churn) == (1, 2, 1, 1)
    assert fit.cancel_fracs == pytest.approx([4 / 12, 1.0])
    assert fit.trades == 4 and len(fit.takers) == 3  # the 0.5 ms pair is one taker order
    params, notes = params_from(fit)
    assert params.median_spread_bps == 200.0  # 2 ticks at a mid of 100 ticks
    assert params.touch_quote == pytest.approx(10.0, rel=0.25)  # ~10 lots × $1 at the touch
    assert (params.taker_buy_per_sec, params.taker_sell_per_sec) == (0.2, 0.1)
    assert params.improve_spread_q == (0.5,) * 9  # it left 100 bps: half the median spread
    # Two cancels and one join over ~20 side-seconds: ~0.1 and ~0.05 per side and second.
    assert sum(params.cancel_per_sec) / 5 == pytest.approx(0.1, rel=0.5)
    assert sum(params.add_per_sec) / 5 == pytest.approx(0.05, rel=0.5)
    assert any("taker sizes" in n for n in notes)  # 3 takers: too few for a size distribution


def test_a_product_with_no_taker_buys_gets_no_taker_buys_even_when_pooled() -> None:
    quiet = stream_of([(0.0, CLEAR, 0, 0, 0), (0.0, LEVEL, BID, 99, 10), (0.0, LEVEL, ASK, 101, 10),
                       (9.0, LEVEL, BID, 98, 3)], "Q-USD")  # fmt: skip
    busy = fit_statistics(product_tape(hand_built_tape(), "X-USD"), Window(0.0, 10.0))
    fit = fit_statistics(product_tape(quiet, "Q-USD"), Window(0.0, 10.0))
    params, _ = params_from(fit, [busy])
    assert params.taker_buy_per_sec == 0.0 and params.taker_sell_per_sec == 0.0


def simulate_hawkes(base: float, branching: float, decay: float, length: float, seed: int) -> list[float]:
    """Ogata's thinning for an exponential Hawkes process."""
    rng = random.Random(seed)
    t, excess, times = 0.0, 0.0, []
    while True:
        bound = base + excess
        step = rng.expovariate(bound)
        excess *= math.exp(-decay * step)
        t += step
        if t >= length:
            return times
        if rng.random() * bound <= base + excess:
            times.append(t)
            excess += branching * decay


def test_hawkes_fit_finds_clustering_and_keeps_poisson_for_poisson() -> None:
    clustered = simulate_hawkes(1.0, 0.6, 3.0, 600.0, seed=2)
    branching, decay, gain = fit_hawkes([(clustered, 600.0)])
    assert 0.4 <= branching <= 0.8 and 1.0 <= decay <= 10.0 and gain > 2
    poisson = simulate_hawkes(2.0, 0.0, 1.0, 600.0, seed=3)
    assert fit_hawkes([(poisson, 600.0)])[0] == 0.0


def test_knots_run_from_the_minimum_to_the_maximum() -> None:
    assert knots([float(x) for x in range(9)]) == tuple(float(x) for x in range(9))
    assert knots([]) == ()


@pytest.mark.skipif(not COINBASE_THIN.is_dir(), reason=f"shared capture not present at {COINBASE_THIN}")
def test_the_real_thin_book_calibrates_near_its_measured_numbers(tmp_path: Path) -> None:
    capture = read_capture(COINBASE_THIN / "ws-feed.txt", cache_dir=tmp_path)
    tape = product_tape(capture, "SKL-USD")
    calibration, _ = split_window(Window(tape.start, tape.end), 0.5)
    fitted = calibrate(tape, calibration)
    p = fitted.params
    # docs/thin-capture-stats.txt (whole capture): median spread 12.65 bps, touch $356 bid / $2,083
    # ask, 0.52 taker buys/s, mid volatility 3.6 bps per sqrt(s).
    assert 8.0 < p.median_spread_bps < 20.0
    assert 200 < p.touch_quote < 3000
    assert 0.1 < p.taker_buy_per_sec < 2.0
    assert 0.05 < p.fair_jumps_per_sec <= 0.2  # the mid moved over most 5 s lags: ≤ one move per lag
    assert fitted.as_json()["params"]["name"] == "calibrated:SKL-USD"
    yfi = calibrate(product_tape(capture, "YFI-BTC"), calibration).params
    assert yfi.taker_buy_per_sec == 0.0  # YFI-BTC printed no trade at all
