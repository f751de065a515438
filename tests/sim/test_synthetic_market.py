"""The synthetic market: reproducible, fitted, and it never fills anyone without a taker."""

from __future__ import annotations

import statistics
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.adapters.sim.driver import NEVER
from makerfirst.adapters.sim.market import MAKER_PREFIX, TAKER_PREFIX, MarketParams, SyntheticMarket
from makerfirst.adapters.sim.matching import MatchingEngine
from makerfirst.adapters.sim.presets import PRESETS, THIN
from makerfirst.domain.orders import Side
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import ProductScale
from makerfirst.replay.fidelity import measure
from makerfirst.replay.synthetic_tape import record_tape
from simkit import PENGU


def run(market: str, seconds: float, seed: int = 1) -> tuple[list[float], list[tuple[Side, str]]]:
    """Run a preset for ``seconds``; return spread samples (bps) and fills (taker side, taker id)."""
    engine = MatchingEngine()
    driver = SyntheticMarket(PENGU, PRESETS[market], Decimal("0.0145"), 0.0, seed)
    spreads: list[float] = []
    trades: list[tuple[Side, str]] = []
    while driver.next_time() <= seconds:
        for match in driver.step(engine):
            trades.append((match.taker_side, match.taker_order_id))
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask, "the synthetic book must never cross"
            spreads.append((ask - bid) / ((ask + bid) / 2) * 10_000)
    return spreads, trades


def test_same_seed_same_market_and_other_seed_other_market() -> None:
    assert run("thin", 60, seed=4) == run("thin", 60, seed=4)
    assert run("thin", 60, seed=4) != run("thin", 60, seed=5)


def test_dead_market_has_no_taker_buys_at_all() -> None:
    assert PRESETS["dead"].taker_buy_per_sec == 0.0
    _, trades = run("dead", 600)
    assert trades and all(side is Side.SELL for side, _ in trades)  # rare small sellers only


def test_thin_market_looks_like_the_skl_usd_capture_it_was_fitted_on() -> None:
    spreads, trades = run("thin", 600)
    # The fit (presets.py): median spread 13.9 bps; 0.52 taker buys/s and 0.91 taker sells/s.
    assert 0.5 * THIN.median_spread_bps <= statistics.median(spreads) <= 2.5 * THIN.median_spread_bps
    assert statistics.quantiles(spreads, n=10)[0] < statistics.quantiles(spreads, n=10)[-1]  # it varies
    buyers = {taker for side, taker in trades if side is Side.BUY}
    sellers = {taker for side, taker in trades if side is Side.SELL}
    # Hawkes clustering makes 600 s counts noisy: within 40 % of the fitted mean rates.
    assert 0.6 * THIN.taker_buy_per_sec <= len(buyers) / 600 <= 1.4 * THIN.taker_buy_per_sec
    assert 0.6 * THIN.taker_sell_per_sec <= len(sellers) / 600 <= 1.4 * THIN.taker_sell_per_sec


def test_the_first_step_lays_out_both_sides_of_the_book() -> None:
    for preset in ("thin", "dead"):
        driver = SyntheticMarket(PENGU, PRESETS[preset], Decimal("0.0145"), 0.0, 1)
        assert driver.next_time() == 0.0
        engine = MatchingEngine()
        driver.step(engine)
        assert engine.best_bid() is not None and engine.best_ask() is not None
        assert len(engine.levels(Side.BUY, 50)) == PRESETS[preset].levels
        assert driver.next_time() < NEVER


def test_a_resting_sell_on_a_market_without_taker_buys_never_fills() -> None:
    scale = ProductScale("PENGU-USD", PENGU.price_increment, PENGU.base_increment)
    fills = trials = 0
    for seed in range(1, 4):
        tape = record_tape(scale, PRESETS["dead"], Decimal("0.0145"), seconds=130.0, seed=seed)
        probes = measure(tape, Window(30.0, 130.0), {5.0: Window(30.0, 130.0), 30.0: Window(30.0, 130.0)})
        for k, n in probes.fills.values():
            fills, trials = fills + k, trials + n
    assert trials >= 50 and fills == 0


unit = st.floats(0.0, 5.0)
quantiles = st.lists(st.floats(0.001, 30.0), min_size=2, max_size=9).map(lambda xs: tuple(sorted(xs)))
random_markets = st.builds(
    MarketParams,
    name=st.just("random"),
    source=st.just("hypothesis"),
    touch_quote=st.floats(5.0, 5000.0),
    median_spread_bps=st.floats(1.0, 200.0),
    add_per_sec=st.tuples(unit, unit, unit, unit, unit),
    cancel_per_sec=st.tuples(unit, unit, unit, unit, unit),
    cancel_spread_factor=st.tuples(unit, unit, unit, unit, unit),
    cancel_frac_q=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5).map(lambda xs: tuple(sorted(xs))),
    add_size_q=quantiles,
    improve_per_sec=st.tuples(unit, unit, unit, unit),
    improve_spread_q=quantiles,
    gap_bps_q=quantiles,
    touch_gap_bps_q=quantiles,
    deep_size_q=quantiles,
    deep_churn_per_sec=unit,
    remove_behind_per_sec=st.tuples(unit, unit, unit),
    levels=st.integers(2, 10),
    fair_jumps_per_sec=st.floats(0.0, 3.0),
    fair_jump_bps_q=st.lists(st.floats(-50.0, 50.0), min_size=2, max_size=9).map(
        lambda xs: tuple(sorted(xs))
    ),
    taker_buy_per_sec=unit,
    taker_sell_per_sec=unit,
    hawkes_branching=st.floats(0.0, 0.9),
    hawkes_decay_per_sec=st.floats(0.1, 30.0),
    taker_size_q=quantiles,
)


@settings(max_examples=40, deadline=None)
@given(params=random_markets, seed=st.integers(0, 10_000), offsets=st.lists(st.integers(-40, 40), max_size=6))
def test_every_fill_of_ours_is_a_taker_at_our_price_and_makers_never_cross(
    params: MarketParams, seed: int, offsets: list[int]
) -> None:
    engine = MatchingEngine()
    market = SyntheticMarket(PENGU, params, Decimal("0.0145"), 0.0, seed)
    ours: dict[str, tuple[Side, int]] = {}
    pending = list(offsets)
    steps = 0
    while market.next_time() <= 60.0 and steps < 3000:
        steps += 1
        for match in market.step(engine):
            # Nobody trades but a taker: makers' quotes are post-only.
            assert match.taker_order_id.startswith(TAKER_PREFIX)
            assert not match.taker_is_ours
            if match.maker_is_ours:
                side, price = ours[match.maker_order_id]
                assert match.taker_side is side.opposite and match.price == price
            else:
                assert match.maker_order_id.startswith(MAKER_PREFIX)
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask, "a maker crossed the book"
            if pending and steps % 7 == 0:  # we rest a post-only order somewhere near the touch
                offset = pending.pop()
                side = Side.SELL if offset >= 0 else Side.BUY
                price = ask + offset if side is Side.SELL else bid + offset
                if price > 0 and not engine.would_cross(side, price):
                    order_id = f"ours-{steps}"
                    assert engine.submit(order_id, side, price, 3, ours=True, rest=True) == []
                    ours[order_id] = (side, price)
