"""Guards in front of every order, and the one explicit way to bypass them.

The design note's taker fallback skips all three guards; that is the only bypass, and it is a
value (``GuardBypass.TAKER_FALLBACK``) that the engine logs, not a row of booleans. The book's age
(``guards.max_book_age_sec``) is one of the liquidity checks, so the fallback skips it too, as the
design note's ``skip_liquidity_checks=True`` says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, StrEnum

from makerfirst.domain.book import EmptyBookError, OrderBook
from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Side
from makerfirst.policy import GuardsPolicy


class Guard(StrEnum):
    LIQUIDITY = "liquidity"
    SLIPPAGE_BUDGET = "slippage_budget"
    FAILED_ORDER_COOLDOWN = "failed_order_cooldown"


class GuardBypass(Enum):
    """Which guards an order skips. Only the purge taker fallback skips any."""

    NONE = frozenset[Guard]()
    TAKER_FALLBACK = frozenset(Guard)

    @property
    def skipped(self) -> frozenset[Guard]:
        return self.value


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """Why an order was refused before it reached the exchange."""

    guard: Guard
    reason: str


def check_liquidity(book: OrderBook, limits: GuardsPolicy, now: float | None = None) -> GuardVerdict | None:
    """Refuse a book older than ``max_book_age_sec`` at ``now`` (a stale or broken feed: its
    spread and depth are no longer the market's), or whose spread is too wide or whose depth near
    the mid is too thin."""
    if now is not None:
        age = book.age_sec(now)
        if age > float(limits.max_book_age_sec):
            return GuardVerdict(
                Guard.LIQUIDITY,
                f"the book is {age:.1f}s old, older than max_book_age_sec {limits.max_book_age_sec}s"
                " (the feed is stale and the REST read failed)",
            )
    try:
        spread = book.spread_bps
    except EmptyBookError as empty:
        return GuardVerdict(Guard.LIQUIDITY, str(empty))
    if spread > limits.max_spread_bps:
        return GuardVerdict(
            Guard.LIQUIDITY, f"spread {spread:.1f} bps exceeds max_spread_bps {limits.max_spread_bps}"
        )
    band = Decimal(limits.depth_band_bps)
    for side in Side:
        depth = book.depth_usd(side, band)
        if depth < limits.min_depth_usd:
            return GuardVerdict(
                Guard.LIQUIDITY,
                f"{side.value} depth ${depth:.2f} within {band} bps"
                f" is below min_depth_usd ${limits.min_depth_usd}",
            )
    return None


def check_slippage_budget(
    book: OrderBook, side: Side, limit_price: Decimal, limits: GuardsPolicy
) -> GuardVerdict | None:
    """Refuse an order whose worst price is further than ``slippage_budget_bps`` from the mid."""
    mid = book.mid
    worst = (mid - limit_price) if side is Side.SELL else (limit_price - mid)
    cost_bps = max(ZERO, worst) / mid * BPS
    if cost_bps > limits.slippage_budget_bps:
        return GuardVerdict(
            Guard.SLIPPAGE_BUDGET,
            f"worst price {limit_price} is {cost_bps:.1f} bps from mid {mid},"
            f" budget {limits.slippage_budget_bps} bps",
        )
    return None


@dataclass(slots=True)
class FailedOrderCooldown:
    """Per-product quiet period after an order failed, so a broken product is not hammered."""

    cooldown_sec: float
    _until: dict[str, float] = field(default_factory=dict)

    def record_failure(self, product_id: str, now: float) -> None:
        self._until[product_id] = now + self.cooldown_sec

    def check(self, product_id: str, now: float) -> GuardVerdict | None:
        until = self._until.get(product_id)
        if until is not None and now < until:
            return GuardVerdict(
                Guard.FAILED_ORDER_COOLDOWN,
                f"{product_id} is cooling down for {until - now:.0f}s after a failed order",
            )
        return None
