"""Guards refuse bad books and prices; only the taker fallback bypasses them."""

from __future__ import annotations

from decimal import Decimal

from makerfirst.algorithms.guards import (
    FailedOrderCooldown,
    Guard,
    GuardBypass,
    check_liquidity,
    check_slippage_budget,
)
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.orders import Side
from makerfirst.policy import Policy

D = Decimal
LIMITS = Policy().guards


def book(bid: str, ask: str, size: str = "10000") -> OrderBook:
    return OrderBook("X-USD", (Level(D(bid), D(size)),), (Level(D(ask), D(size)),), 0.0)


def test_taker_fallback_is_the_only_bypass_and_skips_all_three() -> None:
    assert GuardBypass.NONE.skipped == frozenset()
    assert GuardBypass.TAKER_FALLBACK.skipped == frozenset(Guard)


def test_liquidity_refuses_a_wide_spread() -> None:
    verdict = check_liquidity(book("1.00", "1.10"), LIMITS)  # ~950 bps
    assert verdict is not None and verdict.guard is Guard.LIQUIDITY and "spread" in verdict.reason


def test_liquidity_refuses_thin_depth() -> None:
    verdict = check_liquidity(book("1.000", "1.001", size="5"), LIMITS)  # $5 a side < $20
    assert verdict is not None and "depth" in verdict.reason


def test_liquidity_accepts_a_normal_book() -> None:
    assert check_liquidity(book("1.000", "1.001"), LIMITS) is None


def test_liquidity_refuses_an_empty_side() -> None:
    empty = OrderBook("X-USD", (), (Level(D("1"), D("100")),), 0.0)
    verdict = check_liquidity(empty, LIMITS)
    assert verdict is not None and "no bids" in verdict.reason


def test_slippage_budget_refuses_a_price_too_far_from_mid() -> None:
    b = book("1.000", "1.002")  # mid 1.001
    assert check_slippage_budget(b, Side.SELL, D("0.9960"), LIMITS) is None  # ~50 bps
    verdict = check_slippage_budget(b, Side.SELL, D("0.9900"), LIMITS)  # ~110 bps
    assert verdict is not None and verdict.guard is Guard.SLIPPAGE_BUDGET


def test_cooldown_blocks_a_product_after_a_failure_until_it_expires() -> None:
    cooldown = FailedOrderCooldown(cooldown_sec=120)
    cooldown.record_failure("X-USD", now=100.0)
    assert cooldown.check("X-USD", now=150.0) is not None
    assert cooldown.check("Y-USD", now=150.0) is None
    assert cooldown.check("X-USD", now=220.0) is None
