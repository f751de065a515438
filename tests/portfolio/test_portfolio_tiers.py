"""Liquidity tiers: thresholds, overrides, empty books, and hysteresis that does not flap."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.domain.book import Level, OrderBook
from makerfirst.portfolio.tiers import (
    LiquiditySample,
    Tier,
    TierPolicy,
    TierState,
    TierThresholds,
    measured_tier,
    next_tier,
)

D = Decimal
POLICY = TierPolicy(
    t1=TierThresholds(20, D(10_000), D(1_000_000)),
    t2=TierThresholds(100, D(1_000), D(100_000)),
    upgrade_margin=D("0.2"),
    upgrade_after_cycles=2,
    downgrade_after_cycles=3,
)


def sample(spread: str, depth: str, volume: str, asset: str = "ETH") -> LiquiditySample:
    return LiquiditySample(asset, D(spread), D(depth), D(volume))


T1_STRONG = sample("10", "20000", "2000000")  # passes T1 with the 20 % margin
T1_WEAK = sample("19", "11000", "1100000")  # passes T1, but not by the margin
T2 = sample("50", "5000", "500000")  # passes T2 with margin, fails T1
T3 = sample("500", "10", "10")
BY_NAME = {"1s": T1_STRONG, "1w": T1_WEAK, "2": T2, "3": T3}


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (sample("20", "10000", "1000000"), Tier.T1),  # exactly on every T1 threshold
        (sample("20.01", "10000", "1000000"), Tier.T2),  # spread too wide for T1
        (sample("20", "9999", "1000000"), Tier.T2),  # too thin for T1
        (sample("20", "10000", "999999"), Tier.T2),  # too little volume for T1
        (sample("100", "1000", "100000"), Tier.T2),
        (sample("101", "1000", "100000"), Tier.T3),
        (sample("10", "999", "1000000000"), Tier.T3),
        (sample("10", "1000000", "99999"), Tier.T3),
        (LiquiditySample("ETH", None, D(0), D(10**9)), Tier.T3),  # no book
    ],
)
def test_the_measured_tier_is_the_best_whose_thresholds_all_pass(
    measured: LiquiditySample, expected: Tier
) -> None:
    assert measured_tier(measured, POLICY) is expected


def test_the_upgrade_margin_tightens_every_threshold() -> None:
    assert measured_tier(T1_WEAK, POLICY) is Tier.T1
    assert measured_tier(T1_WEAK, POLICY, POLICY.upgrade_margin) is Tier.T2
    assert measured_tier(T1_STRONG, POLICY, POLICY.upgrade_margin) is Tier.T1


def test_a_sample_measures_the_thinner_side_within_the_band() -> None:
    book = OrderBook(
        "ETH-USD",
        bids=(Level(D("99.9"), D("100")), Level(D("90"), D("1000"))),  # the second level is 10 % away
        asks=(Level(D("100.1"), D("50")),),
        timestamp=0.0,
    )
    measured = LiquiditySample.from_book("ETH", book, D(5), depth_band_bps=200)
    assert measured.spread_bps == D("20")
    assert measured.depth_usd == D("5005.0")  # the asks: 50 × 100.1, thinner than the bids' 9990
    assert measured.volume_24h_usd == D(5)


@pytest.mark.parametrize(
    "book",
    [
        None,
        OrderBook("ETH-USD", (), (Level(D(1), D(1)),), 0.0),
        OrderBook("ETH-USD", (Level(D(1), D(1)),), (), 0.0),
    ],
)
def test_a_book_with_an_empty_side_is_t3_only_after_the_downgrade_streak(book: OrderBook | None) -> None:
    measured = LiquiditySample.from_book("ETH", book, D(10**9), depth_band_bps=200)
    assert not measured.has_book
    assert next_tier(None, measured, POLICY) == TierState(Tier.T3)  # no history: T3 at once
    state = TierState(Tier.T1)
    for _ in range(POLICY.downgrade_after_cycles - 1):  # one glitchy read never purges a core asset
        state = next_tier(state, measured, POLICY)
        assert state.tier is Tier.T1
    assert next_tier(state, measured, POLICY) == TierState(Tier.T3)


def test_the_first_sample_takes_its_measured_tier_directly() -> None:
    assert next_tier(None, T1_WEAK, POLICY) == TierState(Tier.T1)
    assert next_tier(None, T3, POLICY) == TierState(Tier.T3)


def test_an_override_forces_the_tier_whatever_is_measured() -> None:
    policy = TierPolicy(overrides={"ETH": Tier.T1, "PENGU": Tier.T3})
    empty = LiquiditySample("ETH", None, D(0), D(0))
    assert next_tier(TierState(Tier.T3, Tier.T3, 0), empty, policy) == TierState(Tier.T1)
    assert next_tier(None, sample("1", "1e9", "1e12", asset="PENGU"), policy) == TierState(Tier.T3)


def run(start: Tier, steps: str) -> list[Tier]:
    """The tier after each sample of ``steps`` (space-separated names from ``BY_NAME``)."""
    state = TierState(start)
    tiers = []
    for name in steps.split():
        state = next_tier(state, BY_NAME[name], POLICY)
        tiers.append(state.tier)
    return tiers


@pytest.mark.parametrize(
    ("start", "steps", "expected"),
    [
        # Flapping measurements never move the tier.
        (Tier.T1, "2 1w 2 2 1s 3 3 1w 2 2 1w", "1 1 1 1 1 1 1 1 1 1 1"),
        (Tier.T2, "1s 2 1s 2 1s 3 1s 2", "2 2 2 2 2 2 2 2"),
        # Inside the dead band (T1 without the margin) a T2 product stays T2 for ever.
        (Tier.T2, "1w 1w 1w 1w 1w 1w", "2 2 2 2 2 2"),
        # Sustained change moves it: down after 3 cycles, up after 2 (with the margin).
        (Tier.T1, "2 2 2", "1 1 2"),
        (Tier.T2, "1s 1s", "2 1"),
        (Tier.T3, "1s 1s", "3 1"),
        # A streak lands on the tier all of its samples support.
        (Tier.T1, "3 3 2", "1 1 2"),
        (Tier.T1, "3 3 3", "1 1 3"),
        (Tier.T3, "1s 2", "3 2"),
        # A sample that agrees with the current tier resets the streak.
        (Tier.T1, "2 2 1w 2 2 2", "1 1 1 1 1 2"),
        # So does a change of direction.
        (Tier.T2, "1s 3 1s 3 3 3", "2 2 2 2 2 3"),
    ],
)
def test_hysteresis(start: Tier, steps: str, expected: str) -> None:
    assert run(start, steps) == [Tier(f"T{n}") for n in expected.split()]


def test_the_state_carries_the_running_streak() -> None:
    state = next_tier(TierState(Tier.T1), T3, POLICY)
    assert state == TierState(Tier.T1, pending=Tier.T3, streak=1)
    state = next_tier(state, T2, POLICY)
    assert state == TierState(Tier.T1, pending=Tier.T2, streak=2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"upgrade_margin": D(1)},
        {"upgrade_margin": D("-0.1")},
        {"upgrade_after_cycles": 0},
        {"downgrade_after_cycles": 0},
        {"depth_band_bps": 0},
        {"t2": TierThresholds(10, D(1), D(1))},  # tighter spread than T1's 20 bps
        {"t2": TierThresholds(100, D(10**9), D(1))},  # more depth than T1 needs
    ],
)
def test_an_inconsistent_tier_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        TierPolicy(**kwargs)  # type: ignore[arg-type]


def test_overrides_are_a_read_only_copy() -> None:
    overrides = {"ETH": Tier.T1}
    policy = TierPolicy(overrides=overrides)
    overrides["ETH"] = Tier.T3
    assert policy.overrides["ETH"] is Tier.T1
    with pytest.raises(TypeError):
        policy.overrides["ETH"] = Tier.T2  # type: ignore[index]
