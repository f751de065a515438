"""Purge selection (T3, outside the universe, keep list, explicit requests) and the failure backoff."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.portfolio.purge import (
    Backoff,
    BackoffPolicy,
    PurgeBackoff,
    PurgeCandidate,
    PurgeReason,
    select_purges,
)
from makerfirst.portfolio.tiers import Tier

D = Decimal
TIERS = {"BTC": Tier.T1, "ETH": Tier.T2, "PENGU": Tier.T3, "ZK": Tier.T1, "STAKE": Tier.T3}
UNIVERSE = frozenset({"BTC", "ETH", "PENGU"})


def select(
    held: str, *, keep: frozenset[str] = frozenset(), requested: frozenset[str] = frozenset()
) -> dict[str, str]:
    holdings = {asset: D(1) for asset in held.split()}
    chosen = select_purges(
        holdings, TIERS, universe=UNIVERSE, keep=keep, requested=requested, quote_currency="USD"
    )
    return {c.asset: c.reason.value for c in chosen}


@pytest.mark.parametrize(
    ("held", "keep", "requested", "expected"),
    [
        ("BTC ETH", "", "", {}),  # liquid and in the universe: rebalanced, not purged
        ("PENGU", "", "", {"PENGU": "illiquid"}),  # T3 even though it has a target
        ("ZK", "", "", {"ZK": "out_of_universe"}),  # liquid but without a target
        ("STAKE", "", "", {"STAKE": "illiquid"}),
        ("DOGE", "", "", {"DOGE": "illiquid"}),  # no market measured at all
        ("USD", "", "", {}),  # the quote currency is never purged
        ("ZK STAKE", "ZK STAKE", "", {}),  # the keep list shields both automatic reasons
        ("BTC", "", "BTC", {"BTC": "requested"}),  # an explicit request beats tier and universe
        ("BTC ZK PENGU USD", "", "", {"PENGU": "illiquid", "ZK": "out_of_universe"}),
    ],
)
def test_purge_selection(held: str, keep: str, requested: str, expected: dict[str, str]) -> None:
    assert select(held, keep=frozenset(keep.split()), requested=frozenset(requested.split())) == expected


def test_nothing_held_is_never_purged_and_the_order_is_by_asset() -> None:
    holdings = {"ZK": D(5), "PENGU": D(0), "AAA": D(1)}
    chosen = select_purges(
        holdings, TIERS, universe=UNIVERSE, keep=frozenset(), requested=frozenset(), quote_currency="USD"
    )
    assert chosen == (
        PurgeCandidate("AAA", PurgeReason.ILLIQUID),
        PurgeCandidate("ZK", PurgeReason.OUT_OF_UNIVERSE),
    )


def test_without_targets_only_illiquid_holdings_are_purged() -> None:
    chosen = select_purges(
        {"BTC": D(1), "ZK": D(1), "PENGU": D(1)},
        TIERS,
        universe=frozenset(),
        keep=frozenset(),
        requested=frozenset(),
        quote_currency="USD",
    )
    assert chosen == (PurgeCandidate("PENGU", PurgeReason.ILLIQUID),)


POLICY = BackoffPolicy(base_delay_sec=60, max_delay_sec=600)


def test_a_failed_purge_waits_doubling_delays_up_to_the_cap() -> None:
    backoff, now, waits = PurgeBackoff(POLICY), 1_000.0, []
    for _ in range(6):
        backoff = backoff.record_failure("PENGU", now)
        waits.append(backoff.entries["PENGU"].retry_at - now)
    assert waits == [60, 120, 240, 480, 600, 600]
    assert backoff.entries["PENGU"] == Backoff(failures=6, retry_at=1_600.0)


def test_ready_only_once_the_wait_is_over() -> None:
    backoff = PurgeBackoff(POLICY).record_failure("PENGU", 1_000.0)
    assert not backoff.ready("PENGU", 1_059.9)
    assert backoff.ready("PENGU", 1_060.0)
    assert backoff.ready("ZK", 1_000.0)  # other assets are not affected


def test_a_success_resets_the_backoff() -> None:
    backoff = PurgeBackoff(POLICY).record_failure("PENGU", 0.0).record_failure("PENGU", 100.0)
    backoff = backoff.record_success("PENGU")
    assert backoff.ready("PENGU", 100.0)
    assert backoff.record_failure("PENGU", 200.0).entries["PENGU"] == Backoff(1, 260.0)


def test_the_backoff_is_an_immutable_value() -> None:
    before = PurgeBackoff(POLICY)
    after = before.record_failure("PENGU", 0.0)
    assert before.entries == {} and "PENGU" in after.entries
    assert after.only({"ZK"}).entries == {}


def test_the_delay_stays_capped_after_very_many_failures() -> None:
    assert POLICY.delay_sec(10_000) == 600
    assert BackoffPolicy(base_delay_sec=0, max_delay_sec=0).delay_sec(3) == 0


def test_a_cap_below_the_base_is_refused() -> None:
    with pytest.raises(ValueError, match="base_delay_sec <= max_delay_sec"):
        BackoffPolicy(base_delay_sec=600, max_delay_sec=60)
