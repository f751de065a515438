"""The design note's testing checklist and rollback plan, on the simulated dead market.

- [ ] Verify TTL logs show 25s/20s for purge orders
- [ ] Verify taker fallback activates after 2 failed maker attempts
- [ ] Verify normal trading still uses 12-15s TTL
Rollback: allow_taker_fallback false; threshold 10; taker_max_slippage_bps 50.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from makerfirst.algorithms.twap import Outcome
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import OrderType
from makerfirst.execution.engine import AttemptKind, AttemptOutcome
from simkit import BTC, policy_with, sell, synthetic_exchange

PURGE = "portfolio_management.purge_execution"


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("makerfirst")]


@pytest.fixture(autouse=True)
def _capture_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="makerfirst")


def test_purge_ttl_logs_show_25s_then_20s(clock: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    report = sell(synthetic_exchange(clock, "dead"), clock, policy_with(), "1116")
    slices = [m for m in messages(caplog) if m.startswith("Slice")]
    assert len(slices) == 2
    assert "TTL=25s → no fill → canceled" in slices[0]
    assert "TTL=20s → no fill → canceled" in slices[1]
    assert [a.ttl_sec for a in report.attempts] == [25, 20, None]


def test_taker_fallback_after_exactly_two_failed_maker_attempts(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    report = sell(synthetic_exchange(clock, "dead"), clock, policy_with(), "1116")
    kinds = [a.kind for a in report.attempts]
    assert kinds == [AttemptKind.MAKER, AttemptKind.MAKER, AttemptKind.TAKER]
    taker = report.attempts[-1]
    assert taker.order_type is OrderType.LIMIT_IOC and taker.client_order_id.startswith("purge_taker_")
    assert all(a.client_order_id.startswith("purge_") for a in report.attempts)
    assert report.completed and report.outcome is Outcome.COMPLETE
    assert taker.avg_fill_price is not None
    assert taker.avg_fill_price >= report.arrival_best_bid * Decimal("0.99")
    log = messages(caplog)
    assert log[0] == "TWAP purge start: 1116 PENGU (~$16.18)"
    assert "TWAP: activating aggressive purge mode for PENGU-USD (remaining=$16.18 < $50.00 threshold)" in log
    assert "Forcing taker sell ~$16.18 (max_slippage=1.0%)" in log
    assert any(m.startswith("Taker fallback filled $16.1") and m.endswith("(1116 PENGU)") for m in log)
    assert log[-1] == "Purge complete"


def test_normal_trading_keeps_12_to_15s_first_and_8_to_15s_retries(clock: VirtualClock) -> None:
    # BTC on the dead market: nobody buys, so a normal sell runs all its maker attempts.
    exchange = synthetic_exchange(clock, "dead", product=BTC, price="95000", balances={"BTC": "0.01"})
    report = sell(exchange, clock, policy_with(), "0.005", Purpose.NORMAL, "BTC-USD")
    ttls = [a.ttl_sec for a in report.attempts]
    assert len(ttls) == 4 and all(a.kind is AttemptKind.MAKER for a in report.attempts)
    assert ttls[0] is not None and 12 <= ttls[0] <= 15
    assert all(t is not None and 8 <= t <= 15 for t in ttls[1:])
    assert report.outcome is Outcome.MAX_ATTEMPTS and not report.completed


def test_normal_sell_on_a_liquid_book_starts_with_a_12_to_15s_ttl(clock: VirtualClock) -> None:
    exchange = synthetic_exchange(clock, "liquid", product=BTC, price="95000", balances={"BTC": "0.01"})
    report = sell(exchange, clock, policy_with(), "0.005", Purpose.NORMAL, "BTC-USD")
    first = report.attempts[0].ttl_sec
    assert first is not None and 12 <= first <= 15
    assert all(a.kind is AttemptKind.MAKER for a in report.attempts)


def test_rollback_1_disabling_the_fallback_means_never_a_taker(clock: VirtualClock) -> None:
    report = sell(
        synthetic_exchange(clock, "dead"), clock, policy_with(f"{PURGE}.allow_taker_fallback=false"), "1116"
    )
    assert [a.kind for a in report.attempts] == [AttemptKind.MAKER, AttemptKind.MAKER]
    assert not report.completed and report.outcome is Outcome.TAKER_FALLBACK_DISABLED


def test_rollback_2_a_10_dollar_threshold_gives_a_16_dollar_purge_no_taker(clock: VirtualClock) -> None:
    report = sell(
        synthetic_exchange(clock, "dead"),
        clock,
        policy_with(f"{PURGE}.taker_fallback_threshold_usd=10"),
        "1116",
    )
    assert all(a.kind is AttemptKind.MAKER for a in report.attempts)
    assert report.outcome is Outcome.RESIDUAL_EXCEEDS_THRESHOLD


@pytest.mark.parametrize(("bps", "factor"), [(100, "0.99"), (50, "0.995")])
def test_rollback_3_the_ioc_limit_moves_with_taker_max_slippage_bps(
    clock: VirtualClock, bps: int, factor: str
) -> None:
    report = sell(
        synthetic_exchange(clock, "dead"), clock, policy_with(f"{PURGE}.taker_max_slippage_bps={bps}"), "1116"
    )
    taker = report.attempts[-1]
    assert taker.kind is AttemptKind.TAKER and taker.price is not None
    bid = taker.book.best_bid
    assert taker.price == (bid * Decimal(factor)).quantize(Decimal("0.000001"), rounding="ROUND_CEILING")


def test_a_position_above_the_threshold_ends_as_residual_exceeds_threshold(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = synthetic_exchange(clock, "dead", balances={"PENGU": "6000"})
    report = sell(exchange, clock, policy_with(), "6000")
    assert all(a.kind is AttemptKind.MAKER for a in report.attempts)
    assert report.outcome is Outcome.RESIDUAL_EXCEEDS_THRESHOLD and not report.completed
    assert any("residual ~$87.00 exceeds threshold" in m for m in messages(caplog))
    assert exchange.all_orders() and all(o.status.is_terminal for o in exchange.all_orders())


def test_a_purge_on_a_thin_book_usually_fills_as_a_maker(clock: VirtualClock) -> None:
    report = sell(synthetic_exchange(clock, "thin", seed=3), clock, policy_with(), "1116")
    assert report.completed
    assert report.attempts[0].outcome in (AttemptOutcome.FILLED, AttemptOutcome.PARTIAL)
    assert report.attempts[0].maker_filled_size > 0
