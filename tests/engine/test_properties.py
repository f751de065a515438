"""Invariants of the sell loop over random markets, sizes and policies (Hypothesis)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Liquidity, OrderType
from makerfirst.execution.engine import AttemptKind
from simkit import PENGU, policy_with, sell, synthetic_exchange

PURGE = "portfolio_management.purge_execution"


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    cushion = draw(st.integers(0, 2))
    first_ttl = draw(st.integers(1, 30))
    return {
        "market": draw(st.sampled_from(["dead", "thin", "liquid"])),
        "seed": draw(st.integers(0, 10_000)),
        "size": draw(st.integers(1, 8_000)),
        "held": draw(st.integers(0, 8_000)),
        "purpose": draw(st.sampled_from([Purpose.PURGE, Purpose.NORMAL])),
        "overrides": [
            f"{PURGE}.taker_fallback_threshold_usd={draw(st.integers(1, 150))}",  # 0 is refused
            f"{PURGE}.taker_max_slippage_bps={draw(st.integers(0, 300))}",
            f"{PURGE}.max_consecutive_no_fill={draw(st.integers(1, 3))}",
            f"{PURGE}.allow_taker_fallback={str(draw(st.booleans())).lower()}",
            f"{PURGE}.cushion_ticks={cushion}",
            f"{PURGE}.max_cushion_ticks={draw(st.integers(max(cushion, 1), 4))}",
            f"{PURGE}.maker_first_ttl_sec={first_ttl}",
            f"{PURGE}.maker_retry_ttl_sec={draw(st.integers(1, min(30, 4 * first_ttl)))}",  # policy bound
            f"execution.max_slice_usd={draw(st.sampled_from([5, 20, 1000]))}",
        ],
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_sell_loop_invariants(scenario: dict[str, object]) -> None:
    clock = VirtualClock(start=1_000.0)
    held = Decimal(scenario["held"])  # type: ignore[arg-type]
    exchange = synthetic_exchange(
        clock,
        str(scenario["market"]),
        balances={"PENGU": str(held), "USD": "0"},
        seed=int(scenario["seed"]),  # type: ignore[call-overload]
    )
    policy = policy_with(*scenario["overrides"])  # type: ignore[arg-type]
    report = sell(exchange, clock, policy, str(scenario["size"]), scenario["purpose"])  # type: ignore[arg-type]
    purge = policy.portfolio_management.purge_execution
    fills = exchange.all_fills()
    sold = sum((f.size for f in fills), start=ZERO)

    # Never sells more than held (or than asked), and every fill is recorded exactly once.
    assert sold <= held and sold <= Decimal(scenario["size"])  # type: ignore[arg-type]
    assert report.filled_size == sold
    assert asyncio.run(exchange.get_balances())["PENGU"] == held - sold

    # Every order is on its product's increments.
    for order in exchange.all_orders():
        assert PENGU.on_tick(order.limit_price) and PENGU.on_lot(order.size)

    # No order is left open, and nothing is still held, when the loop returns.
    assert asyncio.run(exchange.list_open_orders()) == []
    assert exchange.held() == {}

    takers = [a for a in report.attempts if a.kind is AttemptKind.TAKER]
    if report.purpose is Purpose.NORMAL or not purge.allow_taker_fallback:
        assert takers == []
    assert len(takers) <= 1  # one IOC at most: a failed taker ends the purge
    for taker in takers:
        assert taker.order_type is OrderType.LIMIT_IOC
        bid = taker.book.best_bid
        floor = bid * (1 - Decimal(purge.taker_max_slippage_bps) / BPS)
        assert all(f.price >= floor and f.liquidity is Liquidity.TAKER for f in taker.fills)
        # The taker leg costs at most threshold × cap, plus its fee.
        slippage = sum(((bid - f.price) * f.size for f in taker.fills), start=ZERO)
        cap_cost = purge.taker_fallback_threshold_usd * Decimal(purge.taker_max_slippage_bps) / BPS
        assert slippage <= cap_cost
        assert taker.fees <= taker.filled_value * Decimal("0.012")
