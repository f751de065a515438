"""Reference policies ranked on synthetic markets, through the same engine."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from makerfirst.replay.backtest import BacktestConfig, run_backtest
from makerfirst.replay.policies import REFERENCE_POLICIES, parse_policies, resolve_policy

SLIPPAGE_CAP_BPS = Decimal(100)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="makerfirst")  # restored after the test


def test_on_the_dead_market_only_the_design_note_finishes_its_purges_by_itself() -> None:
    config = BacktestConfig(
        data="synthetic:dead", policies=parse_policies("fixed_ttl,design_note"), episodes=4, deadline_sec=90.0
    )
    result = run_backtest(config)
    by_policy = {m.policy: m for m in result.metrics}
    # Post-only forever into a market without buyers:
    assert by_policy["fixed_ttl"].completion_rate.value == 0.0
    assert by_policy["design_note"].completion_rate.value == 1.0
    design = [r for r in result.results if r.policy == "design_note"]
    assert all(r.size * r.arrival_mid < 50 for r in design)  # every purge is under the taker threshold
    assert all(r.loop_outcome == "complete" and r.maker_size == 0 for r in design)
    # The taker leg never pays more than the 1 % cap below the arrival bid (the book does not move here).
    for r in design:
        worst = r.arrival_mid * (1 - SLIPPAGE_CAP_BPS / 10_000)
        assert r.filled_value / r.filled_size >= worst * Decimal("0.99")


def test_on_the_thin_market_resting_beats_crossing() -> None:
    config = BacktestConfig(
        data="synthetic:thin", policies=parse_policies("market_sell,design_note"), episodes=3
    )
    by_policy = {m.policy: m for m in run_backtest(config).metrics}
    design, market = by_policy["design_note"], by_policy["market_sell"]
    assert design.is_mean_bps.value is not None and market.is_mean_bps.value is not None
    assert design.is_mean_bps.value < market.is_mean_bps.value
    assert market.maker_share.value == 0.0
    assert design.maker_share.value is not None and design.maker_share.value > 0.5


def test_reference_policies_are_the_shipped_policy_with_overrides() -> None:
    shipped = resolve_policy(REFERENCE_POLICIES["design_note"].overrides).portfolio_management.purge_execution
    assert (shipped.maker_first_ttl_sec, shipped.maker_retry_ttl_sec, shipped.max_consecutive_no_fill) == (
        25,
        20,
        2,
    )
    old = resolve_policy(REFERENCE_POLICIES["fixed_ttl"].overrides).portfolio_management.purge_execution
    assert (old.maker_first_ttl_sec, old.max_slices) == (6, 1000)
    in_euros = resolve_policy((), Decimal(2)).portfolio_management.purge_execution
    assert in_euros.taker_fallback_threshold_usd == Decimal(25)  # $50 at 2 dollars per unit of quote
