"""The portfolio part of a cycle: measure holdings and markets, decide (pure), turn it into intents.

Portfolio management is on when the policy sets target weights; without targets the runner only
purges the policy's explicit ``purge:`` list, so a bot with no targets never sells what it was not
told to. The decision's state (tier streaks, purge backoff, the dust ledger) is kept in the store,
so a restart neither forgets a backoff nor re-learns the tiers from scratch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from makerfirst.algorithms import twap
from makerfirst.domain.balances import Balance, available, totals
from makerfirst.domain.errors import ProductNotFoundError
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import ZERO
from makerfirst.domain.product import Product
from makerfirst.domain.records import HoldingSnapshot
from makerfirst.execution.twap_loop import TwapReport
from makerfirst.policy import Policy
from makerfirst.portfolio.decide import (
    Market,
    PortfolioDecision,
    PortfolioPolicy,
    PortfolioSnapshot,
    PortfolioState,
    decide_portfolio,
)
from makerfirst.portfolio.dust import DustEntry, DustReason, ProductRules, dust_reason
from makerfirst.portfolio.purge import Backoff, BackoffPolicy, PurgeBackoff
from makerfirst.portfolio.rebalance import DriftBand, RebalancePolicy
from makerfirst.portfolio.tiers import Tier, TierPolicy, TierState, TierThresholds
from makerfirst.ports import ExchangePort, Store

log = logging.getLogger("makerfirst.portfolio")

STATE_DOCUMENT = "portfolio_state"
MEASURE_CONCURRENCY = 8  # books read at once; the adapter's limiter keeps us inside the venue's rate


def portfolio_policy(policy: Policy) -> PortfolioPolicy:
    """The pure portfolio module's view of the policy file."""
    pm = policy.portfolio_management
    t = pm.tiers

    def thresholds(section: Any) -> TierThresholds:
        return TierThresholds(section.max_spread_bps, section.min_depth_usd, section.min_volume_24h_usd)

    return PortfolioPolicy(
        quote_currency=pm.quote_currency,
        tiers=TierPolicy(
            depth_band_bps=t.depth_band_bps,
            t1=thresholds(t.t1),
            t2=thresholds(t.t2),
            upgrade_margin=t.upgrade_margin,
            upgrade_after_cycles=t.upgrade_after_cycles,
            downgrade_after_cycles=t.downgrade_after_cycles,
            overrides={asset: Tier(tier) for asset, tier in t.overrides.items()},
        ),
        rebalance=RebalancePolicy(
            target_weights=dict(pm.rebalance.target_weights),
            drift_band=DriftBand(pm.rebalance.drift_band.absolute, pm.rebalance.drift_band.relative),
            fee_reserve_fraction=pm.rebalance.fee_reserve_fraction,
        ),
        keep=frozenset(pm.keep),
        purge=frozenset(policy.purge),
        purge_backoff=BackoffPolicy(pm.purge_backoff.base_delay_sec, pm.purge_backoff.max_delay_sec),
    )


class PortfolioStep:
    def __init__(self, exchange: ExchangePort, store: Store, policy: Policy) -> None:
        self._exchange = exchange
        self._store = store
        self._policy = portfolio_policy(policy)
        self._enabled = bool(policy.portfolio_management.rebalance.target_weights)
        self._products: dict[str, Product | None] = {}
        self._state = _load_state(store.load_document(STATE_DOCUMENT), self._policy.purge_backoff)

    @property
    def enabled(self) -> bool:
        return self._enabled

    async def decide(
        self, balances: Mapping[str, Balance], in_flight: Collection[str], now: float
    ) -> PortfolioDecision:
        """``balances``: one read of the venue's balance sheet; ``in_flight``: assets a loop is
        trading now."""
        snapshot = await self._measure(balances, frozenset(in_flight))
        decision = decide_portfolio(snapshot, self._state, self._policy, now)
        for entry in decision.dust_recorded:
            log.warning(
                "Dust: %s %s set aside (%s, ~$%s); not retried until its value or the product's rules change",
                entry.size,
                entry.asset,
                entry.reason.value,
                f"{entry.value:.2f}" if entry.value is not None else "?",
                extra={"event": "dust", "asset": entry.asset, "reason": entry.reason.value},
            )
        self._keep(decision.state)
        return decision

    def intents(self, decision: PortfolioDecision, *, sells_pending: bool = False) -> list[TradeIntent]:
        """Purges, then rebalancing: the sells first; the buys only once no sell is planned or
        still under way (``sells_pending``), since the plan pays for them with what the sells
        bring in."""
        intents = [purge.intent() for purge in decision.purges]
        plan = decision.rebalance
        orders = plan.sells if plan.sells or sells_pending else plan.buys
        intents += [TradeIntent(o.product_id, SizeBase(o.size), Purpose.NORMAL, o.side) for o in orders]
        return intents

    def finished(self, report: TwapReport, now: float) -> None:
        """Fold a finished loop back into the state: purge backoff, or dust left at its end."""
        asset = report.product_id.split("-", 1)[0]
        state = self._state
        if report.outcome is twap.Outcome.DUST and report.remaining_size > ZERO:
            product = self._products.get(asset)
            reason = (
                dust_reason(report.remaining_size, product, report.arrival_best_bid)
                or DustReason.BELOW_MIN_SIZE
            )
            state = state.with_dust(
                DustEntry.record(
                    asset,
                    reason,
                    report.remaining_size,
                    product=product,
                    price=report.arrival_best_bid,
                    now=now,
                )
            )
        if report.purpose is Purpose.PURGE:
            state = state.after_purge(asset, succeeded=report.completed, now=now)
        self._keep(state)

    def holdings(self, decision: PortfolioDecision, running: Collection[str]) -> list[HoldingSnapshot]:
        return [
            replace(h, purge_state="running") if h.asset in running and h.purge_state is None else h
            for h in decision.holdings
        ]

    # -- measuring ------------------------------------------------------------------------------------
    async def _measure(self, sheet: Mapping[str, Balance], in_flight: frozenset[str]) -> PortfolioSnapshot:
        quote = self._policy.quote_currency
        # What resting orders hold is in the venue's own totals: the journal adds nothing, since
        # its view of what rests can lag the venue (a fill not polled yet, an order just placed).
        balances = totals(sheet)
        universe = set(self._policy.rebalance.target_weights)
        assets = {a for a, size in balances.items() if size > ZERO} | universe | set(self._policy.purge)
        # A holding being purged right now needs no new measurement (it keeps its tier); the
        # universe is always measured, since its prices make the weights.
        assets -= {quote} | (in_flight - universe)
        gate = asyncio.Semaphore(MEASURE_CONCURRENCY)

        async def market(asset: str) -> tuple[str, Market | None]:
            async with gate:
                product = await self._product(f"{asset}-{quote}")
                if product is None:
                    return asset, None
                book = await self._exchange.get_order_book(product.product_id)
                volume = await self._exchange.get_volume_24h(product.product_id)
                return asset, Market(product, book, volume)

        measured = await asyncio.gather(*(market(a) for a in sorted(assets)))
        markets = {asset: m for asset, m in measured if m is not None}
        return PortfolioSnapshot(balances, available(sheet, quote), markets, in_flight)

    async def _product(self, product_id: str) -> Product | None:
        if product_id not in self._products:
            try:
                self._products[product_id] = await self._exchange.get_product(product_id)
            except ProductNotFoundError:
                self._products[product_id] = None
        return self._products[product_id]

    def _keep(self, state: PortfolioState) -> None:
        self._state = state
        self._store.save_document(STATE_DOCUMENT, json.dumps(_dump_state(state)))


# -- state as JSON (Decimals as strings) -----------------------------------------------------------------
def _dump_state(state: PortfolioState) -> dict[str, Any]:
    return {
        "tiers": {
            a: {"tier": s.tier.value, "pending": s.pending.value if s.pending else None, "streak": s.streak}
            for a, s in state.tiers.items()
        },
        "backoff": {
            a: {"failures": b.failures, "retry_at": b.retry_at} for a, b in state.backoff.entries.items()
        },
        "dust": {
            a: {
                "reason": e.reason.value,
                "size": str(e.size),
                "price": None if e.price is None else str(e.price),
                "rules": None
                if e.rules is None
                else {
                    "base_increment": str(e.rules.base_increment),
                    "base_min_size": str(e.rules.base_min_size),
                    "quote_min_size": str(e.rules.quote_min_size),
                    "trading_disabled": e.rules.trading_disabled,
                },
                "recorded_at": e.recorded_at,
            }
            for a, e in state.dust.items()
        },
    }


def _load_state(document: str | None, backoff: BackoffPolicy) -> PortfolioState:
    if document is None:
        return PortfolioState(backoff=PurgeBackoff(backoff))
    data = json.loads(document)
    tiers = {
        a: TierState(Tier(s["tier"]), Tier(s["pending"]) if s["pending"] else None, int(s["streak"]))
        for a, s in data["tiers"].items()
    }
    entries = {a: Backoff(int(b["failures"]), float(b["retry_at"])) for a, b in data["backoff"].items()}
    dust = {}
    for a, e in data["dust"].items():
        rules = e["rules"]
        dust[a] = DustEntry(
            asset=a,
            reason=DustReason(e["reason"]),
            size=Decimal(e["size"]),
            price=None if e["price"] is None else Decimal(e["price"]),
            rules=None
            if rules is None
            else ProductRules(
                Decimal(rules["base_increment"]),
                Decimal(rules["base_min_size"]),
                Decimal(rules["quote_min_size"]),
                bool(rules["trading_disabled"]),
            ),
            recorded_at=float(e["recorded_at"]),
        )
    return PortfolioState(tiers=tiers, backoff=PurgeBackoff(backoff, entries), dust=dust)
