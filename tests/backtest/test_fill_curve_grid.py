"""The measured grid: virtual asks inside the spread (down to bid + 1 tick) are followed by the same
conservative rule, counted per grid distance, kept out of the exponential's fit, and saved with the
curve."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.algorithms.glft import FillCurve, grid_price
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import ASK, BID, BUY, CLEAR, LEVEL, TRADE, ProductScale
from makerfirst.replay.fill_curve import fit_curve, sample_tape

SCALE = ProductScale("TEST-USD", Decimal("0.01"), Decimal("1"))
BOOK = [(0.0, CLEAR, 0, 0, 0), (0.0, LEVEL, BID, 1_000, 100), (0.0, LEVEL, ASK, 1_010, 5)]


def test_inside_the_spread_the_grid_price_is_clamped_to_one_tick_over_the_bid() -> None:
    assert grid_price(1_000, 1_010, -0.5) == 1_001
    assert grid_price(1_000, 1_010, -0.25) == 1_003  # ⌈1005 − 2.5⌉
    assert grid_price(1_000, 1_010, 0.0) == 1_005
    assert grid_price(1_000, 1_001, -0.5) == 1_001  # a one-tick book: bid + 1 is the ask


def test_inside_asks_fill_on_a_buy_through_them_and_stay_out_of_the_exponentials_fit() -> None:
    # A buy lifts 1 lot at 1004: the asks at 1001 and 1003 (nominal −0.5, −0.25) are traded
    # through; the one at the mid (1005) and the touch (1010, 5 lots ahead) are not.
    rows = sorted([*BOOK, (4.0, TRADE, BUY, 1_004, 1)], key=lambda r: r[0])
    sample = sample_tape(
        ProductTape.of(SCALE, rows), Window(1.0, 20.0), distances=(0.5,), sample_sec=100.0,
        horizon_sec=10.0, inside=(-0.5, -0.25, 0.0),
    )  # fmt: skip
    assert [o.distance for o in sample.orders] == [pytest.approx(0.5)]  # the fit sees only these
    filled = {o.nominal: (o.filled, o.exposure) for o in sample.inside}
    assert filled == {-0.5: (1.0, pytest.approx(3.0)), -0.25: (1.0, pytest.approx(3.0)),
                      0.0: (0.0, pytest.approx(10.0))}  # fmt: skip
    curve = fit_curve(sample)
    by_nominal = {g.nominal: g for g in curve.grid}
    assert set(by_nominal) == {-0.5, -0.25, 0.0, 0.5}
    assert by_nominal[-0.5].distance == pytest.approx(-0.4) and by_nominal[-0.5].fills == 1.0
    assert by_nominal[0.5].fills == 0.0 and by_nominal[0.5].exposure_sec == pytest.approx(10.0)


def test_the_grid_is_saved_with_the_curve_and_an_older_file_reads_without_one() -> None:
    rows = sorted([*BOOK, (4.0, TRADE, BUY, 1_004, 1)], key=lambda r: r[0])
    curve = fit_curve(sample_tape(ProductTape.of(SCALE, rows), Window(1.0, 20.0), sample_sec=2.0))
    assert curve.grid
    assert FillCurve.from_json(curve.as_json(), "x").grid == pytest.approx(curve.grid)
    older = curve.as_json()
    del older["grid_nominal_distance_fills_exposure"]
    assert FillCurve.from_json(older, "x").grid == ()


def test_books_narrower_than_eight_ticks_keep_a_grid_of_their_own_spread() -> None:
    # Sampled at 5 s on a 10-tick book, at 15 s on a 4-tick one (an ask at 1004): those virtual
    # asks are counted apart; a buy at 1002 at 17 s fills its asks at 1001 and 1002, not at 1004.
    rows = [*BOOK, (10.0, LEVEL, ASK, 1_004, 5), (17.0, TRADE, BUY, 1_002, 1)]
    sample = sample_tape(
        ProductTape.of(SCALE, rows), Window(5.0, 20.0), distances=(0.5,), sample_sec=10.0,
        horizon_sec=4.0, inside=(-0.5, 0.0),
    )  # fmt: skip
    assert sorted({o.spread_ticks for o in sample.inside}) == [4, 10]
    curve = fit_curve(sample)
    narrow = dict(curve.narrow_grids)
    assert set(narrow) == {4}  # 10 ticks is wide enough for the pooled grid
    four = {g.nominal: (g.fills, g.exposure_sec) for g in narrow[4]}
    assert four == {-0.5: (1.0, pytest.approx(2.0)), 0.0: (1.0, pytest.approx(2.0)),
                    0.5: (0.0, pytest.approx(4.0))}  # fmt: skip
    # a saved file keeps them; an older one reads without
    assert FillCurve.from_json(curve.as_json(), "x").narrow_grids == curve.narrow_grids
    older = curve.as_json()
    del older["grid_by_spread_ticks"]
    assert FillCurve.from_json(older, "x").narrow_grids == ()
