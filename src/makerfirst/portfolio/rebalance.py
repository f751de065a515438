"""Target weights for the liquid part of the portfolio, and the plan that restores them.

The liquid part is the assets handed to :func:`plan_rebalance` (the runner passes its T1/T2
universe) plus the quote currency, which takes whatever weight the targets leave. Weights are
fractions of that part's value at the mid. An asset drifts out of its band when
``|weight - target| > max(band.absolute, band.relative * target)``; it then gets one order back
to its target (not to the band's edge, so it does not hover at the edge and trade every cycle).

Sizing rules, in the order they apply:

* Sells come first and never exceed the holding rounded down to the lot. A sell below the
  product's minimum order is not planned; a sell that would leave less than the minimum behind
  takes the whole holding instead (so the plan never makes dust), and an asset whose target is
  0 is sold out entirely.
* Buys are funded by the available quote plus the planned sells' proceeds at the mid, less
  ``fee_reserve_fraction`` of that sum for fees and for sells filling below the mid. When the
  deficits exceed the budget, every buy is scaled down by the same factor; a buy below the
  minimum is dropped and its share stays in quote.
* Every size is on the product's lot grid, rounded down.

The runner must let the sells finish before it starts the buys, or the buys would spend quote
the sells have not brought in yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.portfolio._frozen import frozen_map

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class DriftBand:
    """How far a weight may drift from its target before it is traded back, as weight fractions.

    The tolerance is ``max(absolute, relative * target)``: ``absolute=0.02`` allows 2 weight
    points either way; ``relative=0.25`` allows a quarter of the target (10 points on a 40 %
    target). Set either to 0 to use only the other.
    """

    absolute: Decimal = Decimal("0.02")
    relative: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        if self.absolute < ZERO or self.relative < ZERO:
            raise ValueError("drift band widths must be >= 0")

    def tolerance(self, target: Decimal) -> Decimal:
        return max(self.absolute, self.relative * target)


@dataclass(frozen=True, slots=True)
class RebalancePolicy:
    """Targets and trading bands for the liquid part (``portfolio_management.rebalance``).

    ``target_weights`` maps an asset to a fraction of the liquid part's value (0 to 1, summing
    to at most 1; the quote currency takes the rest). Its keys are the universe: holdings
    outside it are purged. ``fee_reserve_fraction`` of the buy budget is never spent.
    """

    target_weights: Mapping[str, Decimal] = field(default_factory=dict)
    drift_band: DriftBand = DriftBand()
    fee_reserve_fraction: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        validate_targets(self.target_weights)
        if not ZERO <= self.fee_reserve_fraction < ONE:
            raise ValueError("fee_reserve_fraction must be in [0, 1)")
        object.__setattr__(self, "target_weights", frozen_map(self.target_weights))


def validate_targets(targets: Mapping[str, Decimal]) -> None:
    """Refuse a weight outside [0, 1] or weights that sum above 1."""
    for asset, weight in targets.items():
        if not ZERO <= weight <= ONE:
            raise ValueError(f"target weight of {asset} must be in [0, 1], got {weight}")
    if sum(targets.values(), start=ZERO) > ONE:
        raise ValueError("target weights must sum to at most 1 (the quote currency takes the rest)")


@dataclass(frozen=True, slots=True)
class RebalanceOrder:
    """One planned order: ``size`` in base units on the lot grid, ``notional`` in quote at the mid.

    ``weight`` and ``target_weight`` are the asset's weight before the order and its target.
    """

    side: Side
    asset: str
    product_id: str
    size: Decimal
    notional: Decimal
    weight: Decimal
    target_weight: Decimal

    def intent(self) -> TradeIntent:
        """What the runner hands to a maker-first loop: normal trading, never a taker."""
        return TradeIntent(self.product_id, SizeBase(self.size), Purpose.NORMAL, self.side)


class SkipReason(StrEnum):
    """Why an asset outside its band gets no order this cycle."""

    NO_PRICE = "no_price"  # no mid: it cannot be valued
    NO_MARKET = "no_market"  # no product
    TRADING_DISABLED = "trading_disabled"
    LOCKED = "locked"  # an order of the runner's is still working on it
    BELOW_MIN_ORDER = "below_min_order"  # the order it needs is below the product's minimum


@dataclass(frozen=True, slots=True)
class SkippedTrade:
    asset: str
    side: Side
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """The orders to send, sells then buys, each sorted by asset.

    ``total_value`` is the liquid part's value in quote (mids); ``buy_budget`` the quote the
    buys could spend (after sells and the fee reserve); ``weights`` every valued asset's weight.
    """

    sells: tuple[RebalanceOrder, ...]
    buys: tuple[RebalanceOrder, ...]
    skipped: tuple[SkippedTrade, ...]
    weights: Mapping[str, Decimal]
    total_value: Decimal
    buy_budget: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", frozen_map(self.weights))

    @property
    def orders(self) -> tuple[RebalanceOrder, ...]:
        return self.sells + self.buys


def plan_rebalance(
    holdings: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    products: Mapping[str, Product],
    targets: Mapping[str, Decimal],
    *,
    band: DriftBand,
    quote_balance: Decimal,
    fee_reserve_fraction: Decimal = Decimal("0.01"),
    quote_available: Decimal | None = None,
    locked: Set[str] = frozenset(),
) -> RebalancePlan:
    """Orders that bring every asset outside its band back to its target (rules above).

    ``holdings`` (base units) and ``targets`` (fractions) are keyed by asset; an asset held but
    without a target has target 0. ``prices`` are mids in quote, ``products`` the ``ASSET-QUOTE``
    products. ``quote_balance`` is the quote held (it counts in the total), ``quote_available``
    the part of it free to spend (default: all of it). Assets in ``locked`` count in the total
    but are not traded.
    """
    validate_targets(targets)
    skipped: list[SkippedTrade] = []
    values: dict[str, Decimal] = {}
    for asset in sorted(set(holdings) | set(targets)):
        held = holdings.get(asset, ZERO)
        if prices.get(asset, ZERO) > ZERO:
            values[asset] = held * prices[asset]
        elif held > ZERO or targets.get(asset, ZERO) > ZERO:
            skipped.append(SkippedTrade(asset, Side.SELL if held > ZERO else Side.BUY, SkipReason.NO_PRICE))
    total = quote_balance + sum(values.values(), start=ZERO)
    if total <= ZERO:
        return RebalancePlan((), (), tuple(skipped), {}, ZERO, ZERO)
    weights = {asset: value / total for asset, value in values.items()}

    sells: list[RebalanceOrder] = []
    buys: list[_Buy] = []
    for asset, weight in weights.items():
        target = targets.get(asset, ZERO)
        if abs(weight - target) <= band.tolerance(target):
            continue
        side = Side.SELL if weight > target else Side.BUY
        product = _tradable(asset, products, locked)
        if isinstance(product, SkipReason):
            skipped.append(SkippedTrade(asset, side, product))
            continue
        position = _Position(asset, product, prices[asset], weight, target)
        if side is Side.BUY:
            buys.append(_Buy(position, (target - weight) * total))
            continue
        size = sell_size(holdings.get(asset, ZERO), (weight - target) * total, product, prices[asset], target)
        if size is None:
            skipped.append(SkippedTrade(asset, side, SkipReason.BELOW_MIN_ORDER))
        else:
            sells.append(position.order(Side.SELL, size))

    proceeds = sum((order.notional for order in sells), start=ZERO)
    available = quote_balance if quote_available is None else quote_available
    budget = max(ZERO, (available + proceeds) * (ONE - fee_reserve_fraction))
    bought, unfunded = _fund_buys(buys, budget)
    skipped.extend(SkippedTrade(asset, Side.BUY, SkipReason.BELOW_MIN_ORDER) for asset in unfunded)
    return RebalancePlan(
        tuple(sells), bought, tuple(sorted(skipped, key=lambda s: s.asset)), weights, total, budget
    )


def _tradable(asset: str, products: Mapping[str, Product], locked: Set[str]) -> Product | SkipReason:
    """The asset's product if an order may be planned on it now, else why not."""
    product = products.get(asset)
    if product is None:
        return SkipReason.NO_MARKET
    if product.trading_disabled:
        return SkipReason.TRADING_DISABLED
    if asset in locked:
        return SkipReason.LOCKED
    return product


def sell_size(
    held: Decimal, excess_value: Decimal, product: Product, price: Decimal, target: Decimal
) -> Decimal | None:
    """The size (base units, on the lot grid) that sells ``excess_value`` (quote) of ``held``.

    ``None`` when that sell is below the product's minimum at ``price``. A target of 0 sells
    everything; a remainder below the minimum is folded into the sell. Only what is below one
    lot (off the grid, unsellable by any order) can be left behind below the minimum.
    """
    sellable = product.size_floor(held)
    minimum = product.min_order_size(price)
    size = sellable if target <= ZERO else min(product.size_floor(excess_value / price), sellable)
    if size < minimum:
        return None
    if held - size < minimum:
        return sellable
    return size


@dataclass(frozen=True, slots=True)
class _Position:
    """An asset outside its band, with what its orders need."""

    asset: str
    product: Product
    price: Decimal
    weight: Decimal
    target: Decimal

    def order(self, side: Side, size: Decimal) -> RebalanceOrder:
        return RebalanceOrder(
            side, self.asset, self.product.product_id, size, size * self.price, self.weight, self.target
        )


@dataclass(frozen=True, slots=True)
class _Buy:
    position: _Position
    deficit: Decimal  # quote needed to reach the target


def _fund_buys(buys: list[_Buy], budget: Decimal) -> tuple[tuple[RebalanceOrder, ...], list[str]]:
    """The buys that fit ``budget`` (quote), each deficit scaled by the same factor, and the
    assets whose scaled buy fell below the product's minimum."""
    needed = sum((buy.deficit for buy in buys), start=ZERO)
    scale = min(ONE, budget / needed) if needed > ZERO else ONE
    left = budget
    orders: list[RebalanceOrder] = []
    unfunded: list[str] = []
    for buy in buys:
        product, price = buy.position.product, buy.position.price
        size = product.size_floor(min(buy.deficit * scale, left) / price)
        if size * price > left:  # the division rounded up across a lot boundary: one lot less
            size -= product.base_increment
        if size < product.min_order_size(price):
            unfunded.append(buy.position.asset)
            continue
        order = buy.position.order(Side.BUY, size)
        orders.append(order)
        left -= order.notional
    return tuple(orders), unfunded
