"""Which holdings to purge, and how long a failed purge waits before it is tried again.

Selection (:func:`select_purges`), per held asset other than the quote currency:

* on the ``requested`` list (the policy's top-level ``purge:``) → purge, whatever its tier;
* on the ``keep`` list → never purged automatically;
* tier T3, or no tier at all (no market was measured) → purge;
* outside the universe (the assets with a target weight) → purge. An empty universe means no
  targets are configured, not "hold nothing": then this rule is off, so a policy without
  targets never sells out of everything it holds.

A purge that fails (the loop ended without selling out, e.g. the taker found no bids) is not
retried every cycle: :class:`PurgeBackoff` waits ``base_delay_sec`` after the first failure and
doubles the wait after each further one, up to ``max_delay_sec``; a success forgets the asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.money import ZERO
from makerfirst.portfolio._frozen import frozen_map
from makerfirst.portfolio.tiers import Tier

# Beyond 2**40 times any base delay of a second or more exceeds any cap in seconds one would
# configure; clamping the exponent keeps the arithmetic small after thousands of failures.
_MAX_DOUBLINGS = 40


class PurgeReason(StrEnum):
    REQUESTED = "requested"  # named in the policy's purge list
    ILLIQUID = "illiquid"  # tier T3, or no market measured
    OUT_OF_UNIVERSE = "out_of_universe"  # held but without a target weight


@dataclass(frozen=True, slots=True)
class PurgeCandidate:
    asset: str
    reason: PurgeReason


def select_purges(
    holdings: Mapping[str, Decimal],
    tiers: Mapping[str, Tier],
    *,
    universe: Set[str],
    keep: Set[str],
    requested: Set[str],
    quote_currency: str,
) -> tuple[PurgeCandidate, ...]:
    """The held assets (size > 0) to purge, sorted by asset, with the first reason that applies.

    ``tiers`` maps an asset to its current tier; an asset missing from it had no market this
    cycle and counts as illiquid. The quote currency is never a candidate.
    """
    candidates = []
    for asset in sorted(holdings):
        if asset == quote_currency or holdings[asset] <= ZERO:
            continue
        reason = _reason(asset, tiers.get(asset), universe=universe, keep=keep, requested=requested)
        if reason is not None:
            candidates.append(PurgeCandidate(asset, reason))
    return tuple(candidates)


def _reason(
    asset: str, tier: Tier | None, *, universe: Set[str], keep: Set[str], requested: Set[str]
) -> PurgeReason | None:
    if asset in requested:
        return PurgeReason.REQUESTED
    if asset in keep:
        return None
    if tier is None or tier is Tier.T3:
        return PurgeReason.ILLIQUID
    if universe and asset not in universe:
        return PurgeReason.OUT_OF_UNIVERSE
    return None


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long failed purges wait (``portfolio_management.purge_backoff``), in seconds."""

    base_delay_sec: int = 300
    max_delay_sec: int = 14_400

    def __post_init__(self) -> None:
        if self.base_delay_sec < 0 or self.max_delay_sec < self.base_delay_sec:
            raise ValueError("purge backoff needs 0 <= base_delay_sec <= max_delay_sec")

    def delay_sec(self, failures: int) -> int:
        """The wait after the ``failures``-th consecutive failure (1-based): base × 2^(n-1), capped."""
        doublings = min(failures - 1, _MAX_DOUBLINGS)
        return min(self.max_delay_sec, self.base_delay_sec << doublings)


@dataclass(frozen=True, slots=True)
class Backoff:
    """One asset's consecutive failed purges and when (epoch seconds) it may be tried again."""

    failures: int
    retry_at: float


@dataclass(frozen=True, slots=True)
class PurgeBackoff:
    """Per-asset backoff after failed purges, as an immutable value: updates return a new one."""

    policy: BackoffPolicy = BackoffPolicy()
    entries: Mapping[str, Backoff] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", frozen_map(self.entries))

    def ready(self, asset: str, now: float) -> bool:
        """True when ``asset`` may be purged at ``now`` (epoch seconds)."""
        entry = self.entries.get(asset)
        return entry is None or now >= entry.retry_at

    def record_failure(self, asset: str, now: float) -> PurgeBackoff:
        """One more failed purge of ``asset`` at ``now``: the next try waits twice as long (capped)."""
        previous = self.entries.get(asset)
        failures = 1 if previous is None else previous.failures + 1
        entry = Backoff(failures, now + self.policy.delay_sec(failures))
        return replace(self, entries={**self.entries, asset: entry})

    def record_success(self, asset: str) -> PurgeBackoff:
        """``asset`` was purged: its failures are forgotten."""
        return self.only(set(self.entries) - {asset})

    def only(self, assets: Set[str]) -> PurgeBackoff:
        """The backoff restricted to ``assets`` (e.g. the ones still held)."""
        return replace(self, entries={a: e for a, e in self.entries.items() if a in assets})
