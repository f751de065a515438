"""One cycle's portfolio decision: pure, no I/O. The runner measures, calls
:func:`decide_portfolio`, acts on the decision and keeps ``decision.state`` for the next cycle.

Per cycle, in this order:

1. **Tiers**: every asset with a market gets :func:`~makerfirst.portfolio.tiers.next_tier`.
2. **Purges**: :func:`~makerfirst.portfolio.purge.select_purges` picks the held assets to sell
   out of. Each candidate whose loop is not already running is then either dust (set aside in
   the ledger, see :mod:`~makerfirst.portfolio.dust`), deferred (backing off after a failure,
   or no bids to sell into), or purged now.
3. **Rebalance**: the universe's T1/T2 assets that are neither purged nor on the purge list are
   planned by :func:`~makerfirst.portfolio.rebalance.plan_rebalance`; assets with a loop still
   running count in the weights but get no new order.

The runner feeds outcomes back with :meth:`PortfolioState.after_purge` (backoff) and
:meth:`PortfolioState.with_dust` (a loop that ended as dust at its own touch price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.book import OrderBook
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import ZERO
from makerfirst.domain.product import Product
from makerfirst.domain.records import HoldingSnapshot
from makerfirst.portfolio._frozen import frozen_map
from makerfirst.portfolio.dust import DustEntry, dust_reason, still_dust
from makerfirst.portfolio.purge import BackoffPolicy, PurgeBackoff, PurgeCandidate, PurgeReason, select_purges
from makerfirst.portfolio.rebalance import RebalancePlan, RebalancePolicy, plan_rebalance
from makerfirst.portfolio.tiers import LiquiditySample, Tier, TierPolicy, TierState, next_tier


@dataclass(frozen=True, slots=True)
class PortfolioPolicy:
    """Everything portfolio management reads from the policy file.

    ``quote_currency`` is ``portfolio_management.quote_currency``; ``tiers``, ``rebalance``,
    ``keep`` and ``purge_backoff`` are the keys of the same name under ``portfolio_management``;
    ``purge`` is the top-level ``purge:`` list. The universe is ``rebalance.target_weights``' keys.
    """

    quote_currency: str = "USD"
    tiers: TierPolicy = field(default_factory=TierPolicy)
    rebalance: RebalancePolicy = field(default_factory=RebalancePolicy)
    keep: frozenset[str] = frozenset()
    purge: frozenset[str] = frozenset()
    purge_backoff: BackoffPolicy = field(default_factory=BackoffPolicy)

    def __post_init__(self) -> None:
        quote = self.quote_currency
        if quote in self.rebalance.target_weights or quote in self.keep or quote in self.purge:
            raise ValueError(f"the quote currency {quote} takes no target and is never kept or purged")
        if both := sorted(self.keep & self.purge):
            raise ValueError(f"{', '.join(both)}: on both the keep and the purge list")

    @property
    def universe(self) -> frozenset[str]:
        return frozenset(self.rebalance.target_weights)


@dataclass(frozen=True, slots=True)
class Market:
    """One asset's ``ASSET-QUOTE`` market as this cycle measured it.

    ``book`` is ``None`` when none could be read; ``volume_24h_usd`` is in quote.
    """

    product: Product
    book: OrderBook | None
    volume_24h_usd: Decimal

    @property
    def bid(self) -> Decimal | None:
        """The best bid (what a sell is worth), ``None`` without bids."""
        return self.book.best_bid if self.book is not None and self.book.bids else None

    @property
    def mid(self) -> Decimal | None:
        """The mid, ``None`` unless both sides have levels."""
        if self.book is None or not self.book.bids or not self.book.asks:
            return None
        return self.book.mid


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """What the runner measured this cycle.

    ``balances``: asset → total size in base units (the quote currency included, amounts held by
    open orders included); ``quote_available``: the quote free to spend now; ``markets``: asset →
    its market (an asset without one has no product); ``in_flight``: assets a loop is still
    working on, which get no new order.
    """

    balances: Mapping[str, Decimal]
    quote_available: Decimal
    markets: Mapping[str, Market]
    in_flight: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "balances", frozen_map(self.balances))
        object.__setattr__(self, "markets", frozen_map(self.markets))


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """What one cycle hands the next: tier streaks, purge backoff and the dust ledger."""

    tiers: Mapping[str, TierState] = field(default_factory=dict)
    backoff: PurgeBackoff = field(default_factory=PurgeBackoff)
    dust: Mapping[str, DustEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", frozen_map(self.tiers))
        object.__setattr__(self, "dust", frozen_map(self.dust))

    def after_purge(self, asset: str, *, succeeded: bool, now: float) -> PortfolioState:
        """Fold a finished purge in: a failure backs the asset off (epoch seconds), a success resets."""
        backoff = self.backoff.record_success(asset) if succeeded else self.backoff.record_failure(asset, now)
        return replace(self, backoff=backoff)

    def with_dust(self, entry: DustEntry) -> PortfolioState:
        """Set ``entry``'s asset aside, e.g. after its loop ended with a remainder no order can sell."""
        return replace(self, dust={**self.dust, entry.asset: entry})


@dataclass(frozen=True, slots=True)
class PurgeOrder:
    """Sell all of ``asset`` with the purge loop: ``size`` in base units on the lot grid,
    ``value`` in quote at the best bid."""

    asset: str
    product_id: str
    size: Decimal
    value: Decimal
    reason: PurgeReason

    def intent(self) -> TradeIntent:
        return TradeIntent(self.product_id, SizeBase(self.size), Purpose.PURGE)


class DeferReason(StrEnum):
    BACKING_OFF = "backing_off"  # an earlier purge failed; ``retry_at`` says when to try again
    NO_BID = "no_bid"  # nothing to sell into this cycle


@dataclass(frozen=True, slots=True)
class DeferredPurge:
    asset: str
    reason: PurgeReason
    deferred: DeferReason
    retry_at: float | None = None  # epoch seconds, when backing off


@dataclass(frozen=True, slots=True)
class PortfolioDecision:
    """Everything the runner acts on this cycle.

    ``dust_recorded`` are the entries set aside this cycle (new, or looked at again and still
    dust): log them. ``dust_cleared`` are the assets that left the ledger (sold, no longer a
    candidate, or sellable again). ``holdings`` is the status table for the store; the runner
    may mark the purges it is running. The full ledger is ``state.dust``.
    """

    tiers: Mapping[str, Tier]
    rebalance: RebalancePlan
    purges: tuple[PurgeOrder, ...]
    deferred_purges: tuple[DeferredPurge, ...]
    dust_recorded: tuple[DustEntry, ...]
    dust_cleared: tuple[str, ...]
    holdings: tuple[HoldingSnapshot, ...]
    state: PortfolioState

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", frozen_map(self.tiers))


def decide_portfolio(
    snapshot: PortfolioSnapshot, previous: PortfolioState | None, policy: PortfolioPolicy, now: float
) -> PortfolioDecision:
    """This cycle's tiers, purges, dust and rebalance plan, and the state for the next cycle.

    ``previous`` is ``None`` on the first cycle; ``now`` is the clock's epoch seconds.
    """
    previous = previous or PortfolioState()
    quote = policy.quote_currency
    tier_states = {
        asset: next_tier(
            previous.tiers.get(asset),
            LiquiditySample.from_book(asset, market.book, market.volume_24h_usd, policy.tiers.depth_band_bps),
            policy.tiers,
        )
        for asset, market in sorted(snapshot.markets.items())
        if asset != quote
    }
    tiers = {asset: state.tier for asset, state in tier_states.items()}
    held = {a: size for a, size in snapshot.balances.items() if size > ZERO and a != quote}
    # A new backoff policy applies from this cycle on; assets no longer held forget their failures.
    backoff = replace(previous.backoff, policy=policy.purge_backoff).only(set(held))
    candidates = select_purges(
        held, tiers, universe=policy.universe, keep=policy.keep, requested=policy.purge, quote_currency=quote
    )
    purges = _sort_purges(candidates, snapshot, held, ledger=previous.dust, backoff=backoff, now=now)
    plan = _plan(snapshot, policy, tiers, {c.asset for c in candidates})
    return PortfolioDecision(
        tiers=tiers,
        rebalance=plan,
        purges=purges.now,
        deferred_purges=purges.deferred,
        dust_recorded=purges.recorded,
        dust_cleared=tuple(sorted(set(previous.dust) - set(purges.ledger))),
        holdings=_holdings(snapshot, policy, tiers, plan=plan, purges=purges, candidates=candidates),
        state=PortfolioState(tier_states, backoff, purges.ledger),
    )


@dataclass(frozen=True, slots=True)
class _Purges:
    """The candidates sorted into purge now, deferred and dust; ``ledger`` is the new dust ledger."""

    now: tuple[PurgeOrder, ...]
    deferred: tuple[DeferredPurge, ...]
    recorded: tuple[DustEntry, ...]
    ledger: Mapping[str, DustEntry]


def _sort_purges(
    candidates: tuple[PurgeCandidate, ...],
    snapshot: PortfolioSnapshot,
    held: Mapping[str, Decimal],
    *,
    ledger: Mapping[str, DustEntry],
    backoff: PurgeBackoff,
    now: float,
) -> _Purges:
    kept: dict[str, DustEntry] = {}
    outcomes: list[PurgeOrder | DeferredPurge | DustEntry] = []
    for candidate in candidates:
        asset, size = candidate.asset, held[candidate.asset]
        entry = ledger.get(asset)
        market = snapshot.markets.get(asset)
        product, bid = (market.product, market.bid) if market is not None else (None, None)
        if asset in snapshot.in_flight or (entry is not None and still_dust(entry, size, product, bid)):
            if entry is not None:
                kept[asset] = entry
            continue
        reason = dust_reason(size, product, bid)
        if reason is not None:
            outcomes.append(DustEntry.record(asset, reason, size, product=product, price=bid, now=now))
        elif product is None or bid is None:
            outcomes.append(DeferredPurge(asset, candidate.reason, DeferReason.NO_BID))
        elif not backoff.ready(asset, now):
            retry_at = backoff.entries[asset].retry_at
            outcomes.append(DeferredPurge(asset, candidate.reason, DeferReason.BACKING_OFF, retry_at))
        else:
            sellable = product.size_floor(size)
            outcomes.append(PurgeOrder(asset, product.product_id, sellable, sellable * bid, candidate.reason))
    recorded = tuple(o for o in outcomes if isinstance(o, DustEntry))
    return _Purges(
        now=tuple(o for o in outcomes if isinstance(o, PurgeOrder)),
        deferred=tuple(o for o in outcomes if isinstance(o, DeferredPurge)),
        recorded=recorded,
        ledger=frozen_map(kept | {e.asset: e for e in recorded}),
    )


def _plan(
    snapshot: PortfolioSnapshot, policy: PortfolioPolicy, tiers: Mapping[str, Tier], purging: set[str]
) -> RebalancePlan:
    """The rebalance plan over the universe's T1/T2 assets that are not being purged."""
    targets = policy.rebalance.target_weights
    liquid = [
        asset
        for asset in sorted(targets)
        if asset in tiers and tiers[asset].is_liquid and asset not in purging and asset not in policy.purge
    ]
    markets = {asset: snapshot.markets[asset] for asset in liquid}
    return plan_rebalance(
        {asset: snapshot.balances.get(asset, ZERO) for asset in liquid},
        {asset: mid for asset, market in markets.items() if (mid := market.mid) is not None},
        {asset: market.product for asset, market in markets.items()},
        {asset: targets[asset] for asset in liquid},
        band=policy.rebalance.drift_band,
        quote_balance=snapshot.balances.get(policy.quote_currency, ZERO),
        fee_reserve_fraction=policy.rebalance.fee_reserve_fraction,
        quote_available=snapshot.quote_available,
        locked=snapshot.in_flight,
    )


def _holdings(
    snapshot: PortfolioSnapshot,
    policy: PortfolioPolicy,
    tiers: Mapping[str, Tier],
    *,
    plan: RebalancePlan,
    purges: _Purges,
    candidates: tuple[PurgeCandidate, ...],
) -> tuple[HoldingSnapshot, ...]:
    """One status row per held or targeted asset; ``weight`` is the share of the liquid part."""
    quote = policy.quote_currency
    states = {c.asset: "running" for c in candidates if c.asset in snapshot.in_flight}
    states |= {order.asset: "queued" for order in purges.now}
    for deferred in purges.deferred:
        if deferred.retry_at is None:
            states[deferred.asset] = "waiting for bids"
        else:
            until = datetime.fromtimestamp(deferred.retry_at, UTC).isoformat(timespec="seconds")
            states[deferred.asset] = f"backoff until {until}"

    rows = []
    for asset in sorted({a for a, size in snapshot.balances.items() if size > ZERO} | policy.universe):
        size = snapshot.balances.get(asset, ZERO)
        market = snapshot.markets.get(asset)
        price = Decimal(1) if asset == quote else (market.mid if market is not None else None)
        if asset == quote:
            weight = size / plan.total_value if plan.total_value > ZERO else ZERO
        else:
            weight = plan.weights.get(asset, ZERO)
        rows.append(
            HoldingSnapshot(
                asset=asset,
                size=size,
                price=price,
                value=size * price if price is not None else ZERO,
                tier=tiers[asset].value if asset in tiers else None,
                target_weight=policy.rebalance.target_weights.get(asset),
                weight=weight,
                purge_state=states.get(asset),
                dust_reason=purges.ledger[asset].reason.value if asset in purges.ledger else None,
            )
        )
    return tuple(rows)
