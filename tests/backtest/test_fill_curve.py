"""The fill curve Λ(δ) = A·e^(−kδ) from virtual asks: the conservative fill rule, censoring, the
MLE's recovery of a known curve, and shrinkage toward the pool when a product has no fills."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from makerfirst.algorithms.glft import FillCurve
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import ASK, BID, BUY, CLEAR, LEVEL, TRADE, ProductScale
from makerfirst.replay.fill_curve import (
    NO_FILL_K,
    TapeSample,
    VirtualOrder,
    fit_curve,
    fit_intensity,
    mid_sigma_and_drift,
    observed_rates,
    sample_tape,
)

SCALE = ProductScale("TEST-USD", Decimal("0.01"), Decimal("1"))
Row = tuple[float, int, int, int, int]


def tape(rows: list[Row]) -> ProductTape:
    return ProductTape.of(SCALE, sorted(rows, key=lambda r: r[0]))


def book(bid: int = 1_000, ask: int = 1_100, ask_lots: int = 5) -> list[Row]:
    return [(0.0, CLEAR, 0, 0, 0), (0.0, LEVEL, BID, bid, 100), (0.0, LEVEL, ASK, ask, ask_lots)]


def test_a_virtual_ask_at_the_touch_fills_only_after_the_queue_ahead() -> None:
    # Placed at t=1 behind 5 displayed lots at the ask (0.5 spreads from the mid): a buy of 3 at
    # the ask leaves 2 ahead; the next buy of 3 reaches us.
    rows = [*book(), (2.0, TRADE, BUY, 1100, 3), (3.0, LEVEL, ASK, 1100, 2), (4.0, TRADE, BUY, 1100, 3)]
    sample = sample_tape(tape(rows), Window(1.0, 10.0), distances=(0.5,), sample_sec=100.0)
    [order] = sample.orders
    assert order.filled == 1.0 and order.exposure == pytest.approx(3.0)


def test_a_buy_through_the_price_fills_and_a_quiet_book_is_censored() -> None:
    rows = [*book(), (5.0, TRADE, BUY, 1100, 1)]
    sample = sample_tape(
        tape(rows), Window(1.0, 20.0), distances=(0.25, 1.0), sample_sec=100.0, horizon_sec=8.0
    )
    inside, far = sorted(sample.orders, key=lambda o: o.distance)
    assert (
        inside.distance == pytest.approx(0.25)
        and inside.filled == 1.0
        and inside.exposure == pytest.approx(4.0)
    )
    # 1.0 spreads = 1150, above the print: censored at the horizon (8 s), not filled.
    assert far.filled == 0.0 and far.exposure == pytest.approx(8.0)
    # A sell (the aggressor sold) never fills an ask.
    sells = sample_tape(tape([*book(), (5.0, TRADE, -BUY, 1100, 9)]), Window(1.0, 20.0), distances=(0.25,),
                        sample_sec=100.0)  # fmt: skip
    assert [o.filled for o in sells.orders] == [0.0]


def test_the_mle_recovers_a_known_curve() -> None:
    # Buyers arrive at 2/s; each prints 1050 + ⌈100·X⌉ ticks with X ~ Exp(k = 4) (the mid is 1050,
    # the spread 100 ticks): a virtual ask δ spreads above the mid, inside the spread with nobody
    # ahead, is reached at rate 2·e^(0.01·4)·e^(−4δ).
    rng = random.Random(7)
    a, k, length = 2.0, 4.0, 3_000.0
    rows = book()
    t = 0.0
    while t < length:
        t += rng.expovariate(a)
        rows.append((t, TRADE, BUY, 1_050 + math.ceil(100 * rng.expovariate(k)), 1))
    sample = sample_tape(
        tape(rows), Window(10.0, length), distances=(0.05, 0.15, 0.3, 0.45), horizon_sec=20.0
    )
    fitted = fit_intensity(sample.orders)
    assert fitted is not None
    assert fitted.k == pytest.approx(k, rel=0.1)
    assert fitted.a == pytest.approx(a * math.exp(0.01 * k), rel=0.15)
    assert fitted.k_interval[0] < fitted.k < fitted.k_interval[1]


def test_a_product_without_fills_borrows_the_pools_curve_and_says_so() -> None:
    busy_rows = [*book(ask=1100, ask_lots=0)[:2], (0.0, LEVEL, ASK, 1100, 1)]
    rng = random.Random(3)
    t = 0.0
    while t < 500:
        t += rng.expovariate(1.0)
        busy_rows.append((t, TRADE, BUY, 1_050 + math.ceil(100 * rng.expovariate(3.0)), 1))
    busy = sample_tape(tape(busy_rows), Window(5.0, 500.0), distances=(0.1, 0.2, 0.3, 0.4))
    quiet = sample_tape(tape(book()), Window(5.0, 500.0), distances=(0.1, 0.2, 0.3, 0.4))
    alone = fit_curve(quiet)  # nothing to borrow: the zero-fill upper bound, said so
    assert any("95 % upper bound" in n for n in alone.notes) and alone.k == 1.0
    assert alone.a_per_sec * sum(o.exposure * math.exp(-o.distance) for o in quiet.orders) == pytest.approx(
        3.0
    )
    with pytest.raises(MakerfirstError, match="never had both sides"):
        fit_curve(sample_tape(tape([(0.0, CLEAR, 0, 0, 0)]), Window(1.0, 50.0)))
    borrowed = fit_curve(quiet, [busy, quiet])
    own = fit_curve(busy, [busy, quiet])
    assert borrowed.fills == 0 and any("no virtual ask filled" in n for n in borrowed.notes)
    assert 0 < borrowed.a_per_sec < own.a_per_sec  # its own empty exposure pulls the rate down
    assert own.k_interval[0] <= own.k <= own.k_interval[1]
    rates = observed_rates(busy, (0.1, 0.2, 0.3, 0.4))
    assert all(r.interval[0] <= r.rate <= r.interval[1] for r in rates)
    assert [r.rate for r in rates] == sorted((r.rate for r in rates), reverse=True)


def test_fills_only_at_the_nearest_distance_do_not_identify_k() -> None:
    # Every fill at the touch, none beyond: the likelihood rises without end in k (a cliff). The
    # bound is not believed: k is the no-fill assumption and A its MLE given k, said in the notes.
    orders = [VirtualOrder(0.5, 10.0, 1.0)] * 4 + [VirtualOrder(d, 30.0, 0.0) for d in (0.75, 1.0, 2.0)] * 4
    fitted = fit_intensity(orders)
    assert fitted is not None and not fitted.k_identified and fitted.k == NO_FILL_K
    exposure = sum(o.exposure * math.exp(-NO_FILL_K * o.distance) for o in orders)
    assert fitted.a == pytest.approx(4 / exposure)
    assert fitted.a_interval[0] < fitted.a < fitted.a_interval[1] < math.inf
    sample = TapeSample("NU-GBP", orders=list(orders))
    assert any("do not identify k" in n for n in fit_curve(sample).notes)
    # Fills spread over the distances identify it as before.
    spread = [VirtualOrder(d, 10.0, 1.0) for d in (0.5, 0.5, 0.75, 1.0)] + orders[4:]
    identified = fit_intensity(spread)
    assert identified is not None and identified.k_identified and identified.k != NO_FILL_K


def test_sigma_is_read_over_the_horizon_so_a_flickering_mid_is_not_risk() -> None:
    # The mid flicks ±5 ticks each second and comes back: large one-second changes, no risk over 10 s.
    flicker = [5.0 if i % 2 == 0 else -5.0 for i in range(200)]
    sigma, mu = mid_sigma_and_drift(flicker)
    assert sigma < 0.5 and mu == 0.0
    # A random walk has the same σ per √s over any horizon.
    rng = random.Random(3)
    walk = [rng.gauss(0.0, 2.0) for _ in range(20_000)]
    assert mid_sigma_and_drift(walk)[0] == pytest.approx(2.0, rel=0.05)
    # Too short for two disjoint 10-s changes: the one-second σ, flicker and all.
    assert mid_sigma_and_drift(flicker[:19])[0] == pytest.approx(5.0, rel=0.01)


def test_a_clear_drift_is_kept_and_one_within_its_noise_counts_as_none() -> None:
    rng = random.Random(5)
    falling = [rng.gauss(-0.5, 2.0) for _ in range(5_000)]  # 0.5 per s, its standard error 0.03
    assert mid_sigma_and_drift(falling)[1] == pytest.approx(-0.5, abs=0.1)
    # Nine seconds falling 0.11 per s against a σ of 2 per √s (its standard error 0.67): noise.
    short = [2.0, -2.0] * 4 + [-1.0]
    assert mid_sigma_and_drift(short)[1] == 0.0


def test_a_falling_capture_gives_its_curve_a_negative_drift() -> None:
    orders = [VirtualOrder(0.5, 10.0, 1.0), VirtualOrder(1.0, 30.0, 0.0)] * 20
    sample = TapeSample("TEST-USD", orders, mid_changes=[-1.0, 0.0] * 300, spreads=[10] * 600)
    fitted = fit_curve(sample)
    assert fitted.mu == pytest.approx(-0.05, rel=0.01)  # 0.5 tick per s over a 10-tick spread
    assert FillCurve.from_json(fitted.as_json(), "x").mu == fitted.mu
