"""The TWAP/purge loop's decisions, table by table, without an exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.algorithms import twap
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose
from makerfirst.policy import Policy, load_policy
from simkit import PENGU

D = Decimal
BOOK = OrderBook(
    "PENGU-USD", (Level(D("0.014500"), D("100000")),), (Level(D("0.014520"), D("100000")),), 0.0
)  # mid 0.01451: 1116 PENGU ≈ $16.19
PURGE = twap.LoopRules.for_purpose(Purpose.PURGE, Policy())
NORMAL = twap.LoopRules.for_purpose(Purpose.NORMAL, Policy())


def rules_with(*overrides: str) -> twap.LoopRules:
    return twap.LoopRules.for_purpose(Purpose.PURGE, load_policy(None, list(overrides)))


def test_first_decision_is_a_maker_slice_of_everything_at_the_start_cushion() -> None:
    decision = twap.decide(twap.start(D(1116), PURGE), PENGU, BOOK, PURGE)
    assert decision == twap.PlaceMakerSlice(size=D(1116), cushion_ticks=1, attempt_index=0)


def test_taker_comes_after_exactly_max_consecutive_no_fill_attempts() -> None:
    state = twap.start(D(1116), PURGE)
    state = twap.after_maker(state, D(0))
    assert isinstance(twap.decide(state, PENGU, BOOK, PURGE), twap.PlaceMakerSlice)
    state = twap.after_maker(state, D(0))
    decision = twap.decide(state, PENGU, BOOK, PURGE)
    assert isinstance(decision, twap.PlaceTakerFallback)
    assert decision.size == D(1116)
    assert decision.remaining_value_usd == D(1116) * BOOK.mid


def test_a_fill_resets_the_no_fill_count() -> None:
    state = twap.after_maker(twap.after_maker(twap.start(D(1116), PURGE), D(0)), D(100))
    assert state.consecutive_no_fill == 0 and state.remaining == D(1016)
    assert isinstance(twap.decide(state, PENGU, BOOK, PURGE), twap.PlaceMakerSlice)


@pytest.mark.parametrize(
    ("size", "overrides", "expected"),
    [
        (1116, [], twap.PlaceTakerFallback),
        (6000, [], twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD),  # ≈ $87 > $50
        (
            1116,
            ["portfolio_management.purge_execution.taker_fallback_threshold_usd=10"],
            twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD,
        ),
        (
            1116,
            ["portfolio_management.purge_execution.allow_taker_fallback=false"],
            twap.Outcome.TAKER_FALLBACK_DISABLED,
        ),
    ],
)
def test_what_happens_when_patience_runs_out(size: int, overrides: list[str], expected: object) -> None:
    rules = rules_with(*overrides)
    state = twap.after_maker(twap.after_maker(twap.start(D(size), rules), D(0)), D(0))
    decision = twap.decide(state, PENGU, BOOK, rules)
    if isinstance(expected, twap.Outcome):
        assert decision == twap.Finish(expected, D(size) * BOOK.mid)
    else:
        assert isinstance(decision, twap.PlaceTakerFallback)


def test_normal_sell_never_takes() -> None:
    state = twap.start(D(1116), NORMAL)
    for _ in range(NORMAL.max_no_fill):
        assert isinstance(twap.decide(state, PENGU, BOOK, NORMAL), twap.PlaceMakerSlice)
        state = twap.after_maker(state, D(0))
    decision = twap.decide(state, PENGU, BOOK, NORMAL)
    assert isinstance(decision, twap.Finish) and decision.outcome is twap.Outcome.MAX_ATTEMPTS


def test_post_only_rejects_widen_one_tick_at_a_time_up_to_the_max() -> None:
    state = twap.start(D(1116), PURGE)
    seen = []
    for _ in range(6):
        state = twap.after_post_only_reject(state, PURGE)
        seen.append((state.cushion_ticks, state.consecutive_no_fill))
    # 1→2→3, then a reject at the widest cushion counts as a try without a fill.
    assert seen[:4] == [(2, 0), (3, 0), (3, 1), (3, 2)]
    assert isinstance(twap.decide(state, PENGU, BOOK, PURGE), twap.PlaceTakerFallback)


@pytest.mark.parametrize(
    ("filled", "outcome"),
    [
        (D(1116), twap.Outcome.COMPLETE),
        (D(0), twap.Outcome.TAKER_FAILED),
        (D(500), twap.Outcome.TAKER_PARTIAL),
        (D(1100), twap.Outcome.DUST),
    ],  # 16 PENGU ≈ $0.23 < the $1 minimum
)
def test_the_taker_ends_the_loop_whatever_it_fills(filled: Decimal, outcome: twap.Outcome) -> None:
    state = twap.after_taker(twap.start(D(1116), PURGE), filled, PENGU, BOOK.best_bid)
    assert state.finished is outcome
    decision = twap.decide(state, PENGU, BOOK, PURGE)
    assert isinstance(decision, twap.Finish) and decision.outcome is outcome


def test_a_remainder_below_the_minimum_is_dust_not_a_retry() -> None:
    state = twap.start(D(60), PURGE)  # 60 × 0.0145 ≈ $0.87 < quote_min_size $1
    decision = twap.decide(state, PENGU, BOOK, PURGE)
    assert isinstance(decision, twap.Finish) and decision.outcome is twap.Outcome.DUST


def test_guard_block_counts_as_no_fill_for_a_purge_and_stops_a_normal_sell() -> None:
    assert twap.after_guard_block(twap.start(D(1116), PURGE), PURGE).consecutive_no_fill == 1
    assert twap.after_guard_block(twap.start(D(1116), NORMAL), NORMAL).finished is twap.Outcome.GUARD_BLOCKED


@pytest.mark.parametrize(
    ("remaining", "max_slice_usd", "expected"),
    [
        (D(1116), D(1000), D(1116)),  # $16: one slice
        (D(200000), D(1000), D(66666)),  # $2,902: three equal slices on the lot grid
        (D(69000), D(1000), D(34500)),  # $1,001: two slices of ~$500
    ],
)
def test_slices_are_equal_lot_sized_and_never_leave_dust(
    remaining: Decimal, max_slice_usd: Decimal, expected: Decimal
) -> None:
    assert twap.slice_size(remaining, BOOK.mid, PENGU, max_slice_usd) == expected


def test_a_slice_that_would_leave_dust_takes_it_too() -> None:
    # 100 PENGU slices of ~$0.73 leave nothing sellable behind: fold everything into one order.
    assert twap.slice_size(D(130), BOOK.mid, PENGU, D("1")) == D(130)
