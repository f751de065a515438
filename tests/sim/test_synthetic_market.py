"""The synthetic market: reproducible, and shaped like the capture it was measured on."""

from __future__ import annotations

import statistics
from decimal import Decimal

from makerfirst.adapters.sim.driver import NEVER
from makerfirst.adapters.sim.market import SyntheticMarket
from makerfirst.adapters.sim.matching import MatchingEngine
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.domain.orders import Side
from simkit import PENGU


def replay(market: str, seconds: float, seed: int = 1) -> tuple[list[float], list[tuple[Side, str]]]:
    """Run a preset for ``seconds``; return spread samples (bps) and taker fills (side, taker id)."""
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
    assert replay("thin", 60, seed=4) == replay("thin", 60, seed=4)
    assert replay("thin", 60, seed=4) != replay("thin", 60, seed=5)


def test_dead_market_has_no_taker_buys_at_all() -> None:
    _, trades = replay("dead", 600)
    assert trades and all(side is Side.SELL for side, _ in trades)


def test_thin_market_looks_like_the_skl_usd_capture() -> None:
    spreads, trades = replay("thin", 600)
    # SKL-USD: median spread 12.65 bps; 0.52 taker buys/s and 0.78 taker sells/s (fills per taker summed).
    assert 8 <= statistics.median(spreads) <= 20
    buyers = {taker for side, taker in trades if side is Side.BUY}
    sellers = {taker for side, taker in trades if side is Side.SELL}
    assert 0.52 * 0.7 <= len(buyers) / 600 <= 0.52 * 1.3
    assert 0.78 * 0.7 <= len(sellers) / 600 <= 0.78 * 1.3


def test_the_first_refresh_lays_out_both_sides_of_the_book() -> None:
    driver = SyntheticMarket(PENGU, PRESETS["dead"], Decimal("0.0145"), 0.0, 1)
    assert driver.next_time() == 0.0  # the first refresh lays out the book
    engine = MatchingEngine()
    driver.step(engine)
    assert engine.best_bid() is not None and engine.best_ask() is not None
    assert driver.next_time() < NEVER
