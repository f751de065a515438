"""Liquidity tiers T1/T2/T3 from measured spread, depth and 24 h volume, with hysteresis.

A product is measured every cycle (:class:`LiquiditySample`): the spread in bps, the USD depth
within ``depth_band_bps`` of the mid on each side (the thinner side counts: a purge sells into
the bids, a rebalance buy lifts the asks) and the 24 h volume in USD. A tier's thresholds pass
when all three do: spread ≤ ``max_spread_bps``, depth ≥ ``min_depth_usd``, volume ≥
``min_volume_24h_usd``. The measured tier is T1 if T1's thresholds pass, else T2 if T2's do,
else T3.

Tiers decide real money (T3 is purged, T1/T2 are rebalanced), so :func:`next_tier` does not
follow every measurement. It is a Schmitt trigger with a confirmation count:

* **Worse** (the measured tier is below the current one, i.e. the current tier's plain
  thresholds fail) for ``downgrade_after_cycles`` consecutive cycles → move down.
* **Better** (a better tier's thresholds pass *with* ``upgrade_margin``: spread ≤ max × (1 − m),
  depth and volume ≥ min × (1 + m)) for ``upgrade_after_cycles`` consecutive cycles → move up.
* Anything in between (the dead band: passes the current tier, or passes a better tier only
  without the margin) keeps the tier and resets the count, as does a change of direction.

A streak moves to the tier that every sample of the streak supports: the best tier seen while
falling (T1 → samples T3, T3, T2 lands on T2), the worst tier seen while rising. Measurements
that flap around a threshold therefore never move the tier; a sustained change does, after a
bounded number of cycles.

A per-asset override bypasses the hysteresis and forces its tier. A sample whose book has an
empty side measures as T3 but goes through the same downgrade streak as any other bad sample:
one glitchy read of a core asset's book must not start a purge of it. The first sample of an
asset takes its measured tier directly: there is no history to protect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.portfolio._frozen import frozen_map

ONE = Decimal(1)


class Tier(StrEnum):
    """Liquidity tiers, best first: T1/T2 are traded normally (rebalanced), T3 is purged."""

    T1 = "T1"
    T2 = "T2"
    T3 = "T3"

    @property
    def rank(self) -> int:
        """1 for T1 … 3 for T3: a lower rank is a better tier."""
        return int(self.value[1])

    @property
    def is_liquid(self) -> bool:
        return self is not Tier.T3


@dataclass(frozen=True, slots=True)
class TierThresholds:
    """What a tier requires, all at once. Spread in bps, depth and volume in USD (quote)."""

    max_spread_bps: int
    min_depth_usd: Decimal
    min_volume_24h_usd: Decimal

    def __post_init__(self) -> None:
        if self.max_spread_bps < 0 or self.min_depth_usd < ZERO or self.min_volume_24h_usd < ZERO:
            raise ValueError(f"tier thresholds must be >= 0: {self}")


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """How tiers are measured and how quickly they may change (``portfolio_management.tiers``)."""

    depth_band_bps: int = 200
    t1: TierThresholds = TierThresholds(20, Decimal("10000"), Decimal("5000000"))
    t2: TierThresholds = TierThresholds(100, Decimal("1000"), Decimal("250000"))
    upgrade_margin: Decimal = Decimal("0.2")
    upgrade_after_cycles: int = 3
    downgrade_after_cycles: int = 5
    overrides: Mapping[str, Tier] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.depth_band_bps <= 0:
            raise ValueError("depth_band_bps must be > 0")
        if not ZERO <= self.upgrade_margin < ONE:
            raise ValueError("upgrade_margin must be in [0, 1): it scales the spread threshold down by it")
        if self.upgrade_after_cycles < 1 or self.downgrade_after_cycles < 1:
            raise ValueError("upgrade_after_cycles and downgrade_after_cycles must be >= 1")
        t1, t2 = self.t1, self.t2
        if (
            t2.max_spread_bps < t1.max_spread_bps
            or t2.min_depth_usd > t1.min_depth_usd
            or t2.min_volume_24h_usd > t1.min_volume_24h_usd
        ):
            raise ValueError("t2 must be at least as loose as t1 on every threshold")
        object.__setattr__(self, "overrides", frozen_map(self.overrides))


@dataclass(frozen=True, slots=True)
class LiquiditySample:
    """One cycle's liquidity measurement of one asset's market.

    ``spread_bps`` is ``None`` when either side of the book is empty; ``depth_usd`` is the
    smaller of the bid and ask notional within the policy's band; ``volume_24h_usd`` is the
    traded quote volume over 24 h.
    """

    asset: str
    spread_bps: Decimal | None
    depth_usd: Decimal
    volume_24h_usd: Decimal

    @classmethod
    def from_book(
        cls, asset: str, book: OrderBook | None, volume_24h_usd: Decimal, depth_band_bps: int
    ) -> LiquiditySample:
        """Measure ``book`` (``None``: no book at all) within ``depth_band_bps`` of its mid."""
        if book is None or not book.bids or not book.asks:
            return cls(asset, None, ZERO, volume_24h_usd)
        band = Decimal(depth_band_bps)
        depth = min(book.depth_usd(Side.BUY, band), book.depth_usd(Side.SELL, band))
        return cls(asset, book.spread_bps, depth, volume_24h_usd)

    @property
    def has_book(self) -> bool:
        return self.spread_bps is not None


@dataclass(frozen=True, slots=True)
class TierState:
    """An asset's tier and the streak that may change it.

    ``pending`` is the tier a running streak would move to and ``streak`` how many consecutive
    cycles support it; both are empty (``None``, 0) when the measurements agree with ``tier``.
    """

    tier: Tier
    pending: Tier | None = None
    streak: int = 0


def measured_tier(sample: LiquiditySample, policy: TierPolicy, margin: Decimal = ZERO) -> Tier:
    """The best tier whose thresholds ``sample`` passes, each beaten by ``margin`` (a fraction)."""
    if sample.spread_bps is None:
        return Tier.T3
    for tier, thresholds in ((Tier.T1, policy.t1), (Tier.T2, policy.t2)):
        if (
            sample.spread_bps <= thresholds.max_spread_bps * (ONE - margin)
            and sample.depth_usd >= thresholds.min_depth_usd * (ONE + margin)
            and sample.volume_24h_usd >= thresholds.min_volume_24h_usd * (ONE + margin)
        ):
            return tier
    return Tier.T3


def next_tier(previous: TierState | None, sample: LiquiditySample, policy: TierPolicy) -> TierState:
    """This cycle's tier state from the last one and a fresh sample (rules in the module docstring)."""
    forced = policy.overrides.get(sample.asset)
    if forced is not None:
        return TierState(forced)
    measured = measured_tier(sample, policy)
    if previous is None:
        return TierState(measured)
    current = previous.tier
    if measured.rank > current.rank:
        return _extend_streak(previous, measured, policy.downgrade_after_cycles)
    confirmed = measured_tier(sample, policy, policy.upgrade_margin)
    if confirmed.rank < current.rank:
        return _extend_streak(previous, confirmed, policy.upgrade_after_cycles)
    return TierState(current)


def _extend_streak(previous: TierState, supported: Tier, needed: int) -> TierState:
    """Count one more cycle towards ``supported`` (same direction) or start a new streak."""
    current, pending = previous.tier, previous.pending
    falling = supported.rank > current.rank
    if pending is None or (pending.rank > current.rank) != falling:
        pending, streak = supported, 1
    else:
        # The streak can only claim what all of its samples support: the least extreme tier.
        ranks = (pending.rank, supported.rank)
        target_rank = min(ranks) if falling else max(ranks)
        pending, streak = _BY_RANK[target_rank], previous.streak + 1
    if streak >= needed:
        return TierState(pending)
    return TierState(current, pending, streak)


_BY_RANK = {tier.rank: tier for tier in Tier}
