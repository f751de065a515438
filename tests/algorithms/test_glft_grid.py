"""The liquidation problem solved on a grid of measured fill rates: with the exponential's rates on a
fine grid it is the paper's closed form; measured rates are shrunk toward the fitted curve where
thin and made non-increasing in the distance; giving up to the taker is chosen when holding costs
more; and the policy quotes the grid point as it was measured (``glft.quote_grid``)."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from makerfirst.algorithms import twap
from makerfirst.algorithms.glft import (
    FillCurve,
    GlftParams,
    GridRate,
    grid_quote,
    optimal_distance,
    smoothed_grid_rates,
    solve_grid,
)
from makerfirst.algorithms.glft_policy import Glft, GlftSettings
from makerfirst.algorithms.sell_policies import PolicyView
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose
from simkit import PENGU, policy_with

D = Decimal
TICK = PENGU.price_increment

EXPONENTIAL = GlftParams(a_per_sec=0.3, k=1.5, sigma=0.3, gamma=0.5, b=3.0)


@pytest.mark.parametrize(("q", "tau"), [(1, 30.0), (3, 60.0), (2, 5.0), (4, 90.0)])
def test_on_a_fine_grid_of_the_exponentials_rates_it_is_the_closed_form(q: int, tau: float) -> None:
    p = EXPONENTIAL
    grid = np.linspace(-2.0, 6.0, 801)
    rates = [(float(d), p.a_per_sec * math.exp(-p.k * d)) for d in grid]
    j, give_up = solve_grid(rates, gamma=p.gamma, sigma=p.sigma, mu=0.0, b=p.b, q=q, tau=tau, step=0.02)
    assert not give_up
    assert grid[j] == pytest.approx(optimal_distance(p, q, tau), abs=0.02)


def test_at_the_deadline_the_lot_goes_to_the_taker_and_long_before_it_rests() -> None:
    rates = [(-0.4, 0.3), (0.0, 0.2), (0.5, 0.1)]
    kwargs = {"gamma": 0.5, "sigma": 0.1, "mu": 0.0, "b": 2.0, "q": 1}
    assert solve_grid(rates, tau=0.0, **kwargs)[1]
    assert not solve_grid(rates, tau=60.0, **kwargs)[1]


def test_holding_many_lots_in_a_volatile_mid_gives_up_where_one_lot_rests() -> None:
    rates = [(-0.4, 0.3), (0.0, 0.2), (0.5, 0.1)]
    kwargs = {"gamma": 2.0, "sigma": 0.2, "mu": 0.0, "b": 1.0, "tau": 120.0}
    assert solve_grid(rates, q=8, **kwargs)[1]
    assert not solve_grid(rates, q=1, **kwargs)[1]


def test_more_time_quotes_farther_from_the_bid() -> None:
    rates = [(-0.4, 0.35), (-0.1, 0.3), (0.15, 0.2), (0.4, 0.15), (1.0, 0.05)]
    kwargs = {"gamma": 0.5, "sigma": 0.2, "mu": 0.0, "b": 2.0, "q": 1}
    near, far = solve_grid(rates, tau=3.0, **kwargs)[0], solve_grid(rates, tau=120.0, **kwargs)[0]
    assert rates[near][0] < rates[far][0]


def grid_curve(grid: tuple[GridRate, ...], a: float = 0.1, k: float = 1.0) -> FillCurve:
    return FillCurve("PENGU-USD", a, k, 0.2, 10.0, 1_000, 50, (a, a), (k, k), grid=grid)


def test_thin_grid_points_fall_back_to_the_curve_and_a_farther_ask_never_fills_more() -> None:
    curve = grid_curve((
        GridRate(-0.5, -0.4, 600.0, 2_000.0),  # 0.3 /s, well measured
        GridRate(0.0, 0.0, 0.0, 0.0),  # never measured: the curve's rate at the touch
        GridRate(0.5, 0.5, 400.0, 2_000.0),  # 0.2 /s: more than nearer points, pooled with them
        GridRate(1.0, 1.0, 0.0, 0.0),  # never measured, beyond the touch: the curve's rate there
    ))  # fmt: skip
    (near, r_near), (mid, r_mid), (far, r_far), (out, r_out) = smoothed_grid_rates(curve, shrink_sec=60.0)
    assert (near.nominal, mid.nominal, far.nominal, out.nominal) == (-0.5, 0.0, 0.5, 1.0)
    touch = curve.intensity(0.5)  # inside the spread the prior is the touch's rate
    assert r_near == pytest.approx((600 + 60 * touch) / 2_060)
    assert r_near >= r_mid >= r_far >= r_out
    # The unmeasured point is the touch's rate; the farther one, measured higher, is pooled with it.
    pooled = (60 * touch + 400 + 60 * touch) / (60 + 2_060)
    assert r_mid == pytest.approx(pooled) and r_far == pytest.approx(pooled)
    assert r_out == pytest.approx(curve.intensity(1.0))


def test_a_steep_curve_is_not_extrapolated_into_the_spread() -> None:
    # k = 10 per spread (NMR-EUR's fitted market): the curve would say 0.05·e^10 ≈ 1,100 fills/s a
    # tick above the bid; the thin measurement there is shrunk toward the touch's 0.05/s instead.
    curve = grid_curve((GridRate(-0.5, -0.5, 3.0, 10.0), GridRate(0.5, 0.5, 5.0, 100.0)), a=7.4, k=10.0)
    (_, inside), (_, touch) = smoothed_grid_rates(curve, shrink_sec=60.0)
    assert inside == pytest.approx((3 + 60 * curve.intensity(0.5)) / 70)
    assert inside < 0.2 and touch == pytest.approx((5 + 60 * curve.intensity(0.5)) / 160)


def test_a_curve_without_a_grid_has_no_grid_quote() -> None:
    assert grid_quote(grid_curve(()), gamma=0.5, b=2.0, q=1, tau=60.0, mu=0.0) is None


MEASURED = (
    GridRate(-0.5, -0.4, 700.0, 2_000.0),  # bid + 1 tick in a 10-tick book
    GridRate(-0.25, -0.2, 600.0, 2_000.0),
    GridRate(0.0, 0.0, 400.0, 2_000.0),
    GridRate(0.5, 0.5, 100.0, 2_000.0),
)


def view(remaining: str, bid: str = "0.014500", spread_ticks: int = 10) -> PolicyView:
    config = policy_with()
    rules = twap.LoopRules.for_purpose(Purpose.PURGE, config)
    ask = D(bid) + spread_ticks * TICK
    book = OrderBook("PENGU-USD", (Level(D(bid), D(5_000)),), (Level(ask, D(5_000)),), 0.0)
    return PolicyView(twap.start(D(remaining), rules), PENGU, book, rules, config, 0.0, 0.0, 120.0)


def glft_slice(curve: FillCurve, settings: GlftSettings, remaining: str) -> twap.PlaceMakerSlice:
    decision = Glft({"PENGU-USD": curve}, settings).decide(view(remaining))
    assert isinstance(decision, twap.PlaceMakerSlice)
    return decision


def test_the_policy_quotes_the_chosen_grid_point_where_it_was_measured() -> None:
    curve = grid_curve(MEASURED)
    settings = GlftSettings(quote_grid=True, gamma=1.0)
    j, _ = solve_grid([(g.distance, r) for g, r in smoothed_grid_rates(curve)],
                      gamma=1.0, sigma=curve.sigma, mu=0.0, b=9.0, q=1, tau=120.0)  # fmt: skip
    chosen = MEASURED[j].nominal
    decision = glft_slice(curve, settings, remaining="100")
    # the bid 0.014500, a 10-tick spread: nominal c is ⌈mid + c·spread⌉, at least bid + 1 tick
    assert decision.cushion_ticks == max(1, math.ceil(5 + chosen * 10))
    assert decision.reason is not None and decision.reason.distance_spreads == MEASURED[j].distance


def test_without_the_key_or_without_a_grid_the_closed_form_quotes() -> None:
    with_grid, without = grid_curve(MEASURED), grid_curve(())
    closed = glft_slice(with_grid, GlftSettings(quote_grid=False), remaining="100")
    assert glft_slice(without, GlftSettings(quote_grid=True), remaining="100") == closed
    assert closed == glft_slice(replace(with_grid, grid=()), GlftSettings(quote_grid=False), remaining="100")
    assert closed.reason is not None and closed.reason.distance_spreads not in {g.distance for g in MEASURED}


# Pooled over spreads, nominal +0.25 is inside the spread on a wide book and at the ask on a
# narrow one, so its rate blends the two; on books of 4 ticks it is bid + 3, inside, and fills
# as often as bid + 1 (the next buyer takes whichever is the best ask).
POOLED_OVER_SPREADS = (
    GridRate(-0.5, -0.3, 600.0, 2_000.0),
    GridRate(0.0, 0.05, 400.0, 2_000.0),
    GridRate(0.25, 0.3, 240.0, 2_000.0),
    GridRate(0.5, 0.5, 100.0, 2_000.0),
    GridRate(1.0, 1.0, 20.0, 2_000.0),
)
FOUR_TICKS = (
    GridRate(-0.5, -0.25, 600.0, 2_000.0),  # bid + 1
    GridRate(0.0, 0.0, 600.0, 2_000.0),  # bid + 2
    GridRate(0.25, 0.25, 600.0, 2_000.0),  # bid + 3
    GridRate(0.5, 0.5, 100.0, 2_000.0),  # the ask
    GridRate(1.0, 1.0, 90.0, 500.0),  # bid + 6, beyond the ask: few books
)


def narrow_curve() -> FillCurve:
    return replace(grid_curve(POOLED_OVER_SPREADS), narrow_grids=((4, FOUR_TICKS),))


def test_on_a_narrow_book_points_at_or_inside_the_ask_take_that_spreads_rates() -> None:
    curve = narrow_curve()
    pooled = {g.nominal: r for g, r in smoothed_grid_rates(curve)}
    four = smoothed_grid_rates(curve, spread_ticks=4)
    rates = {g.nominal: r for g, r in four}
    for nominal, fills in ((-0.5, 600), (0.0, 600), (0.25, 600), (0.5, 100)):  # this spread's own
        assert rates[nominal] == pytest.approx((fills + 60 * pooled[nominal]) / 2_060)
    # beyond the ask: the pooled rate, at the distance it has on a 4-tick book
    assert rates[1.0] == pytest.approx(pooled[1.0])
    assert [g.distance for g, _ in four] == [-0.25, 0.0, 0.25, 0.5, 1.0]
    # a spread without its own grid (or none given) is the pooled grid
    assert smoothed_grid_rates(curve, spread_ticks=10) == smoothed_grid_rates(curve)


def test_on_a_four_tick_book_the_quote_goes_to_the_highest_price_inside_the_spread() -> None:
    settings = GlftSettings(quote_grid=True, gamma=1.5, fair_price_sec=0.0)  # the default γ
    for curve, cushion in ((narrow_curve(), 3), (grid_curve(POOLED_OVER_SPREADS), 1)):
        decision = Glft({"PENGU-USD": curve}, settings).decide(view("100", spread_ticks=4))
        assert isinstance(decision, twap.PlaceMakerSlice)
        assert decision.cushion_ticks == cushion
