"""Products and their increments: every order is on its product's tick and lot grid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.money import ZERO, ceil_to, floor_to, is_multiple


@dataclass(frozen=True, slots=True)
class Product:
    """A spot product as Coinbase Advanced describes it.

    ``price_increment`` is the tick (quote per base), ``base_increment`` the lot (base units),
    ``base_min_size`` the smallest order in base units and ``quote_min_size`` the smallest
    order notional in quote units.
    """

    product_id: str
    base_currency: str
    quote_currency: str
    price_increment: Decimal
    base_increment: Decimal
    base_min_size: Decimal
    quote_min_size: Decimal
    base_max_size: Decimal | None = None
    trading_disabled: bool = False

    def __post_init__(self) -> None:
        for name in ("price_increment", "base_increment"):
            if getattr(self, name) <= ZERO:
                raise ValueError(f"{self.product_id}: {name} must be > 0")
        for name in ("base_min_size", "quote_min_size"):
            if getattr(self, name) < ZERO:
                raise ValueError(f"{self.product_id}: {name} must be >= 0")

    def size_floor(self, size: Decimal) -> Decimal:
        """``size`` rounded down to the lot (selling rounds down: never more than asked)."""
        return floor_to(size, self.base_increment)

    def price_floor(self, price: Decimal) -> Decimal:
        return floor_to(price, self.price_increment)

    def price_ceil(self, price: Decimal) -> Decimal:
        return ceil_to(price, self.price_increment)

    def on_tick(self, price: Decimal) -> bool:
        return is_multiple(price, self.price_increment)

    def on_lot(self, size: Decimal) -> bool:
        return is_multiple(size, self.base_increment)

    def min_order_size(self, price: Decimal) -> Decimal:
        """The smallest size that passes both minimums at ``price``, on the lot grid."""
        by_notional = ceil_to(self.quote_min_size / price, self.base_increment) if price > ZERO else ZERO
        return max(ceil_to(self.base_min_size, self.base_increment), by_notional, self.base_increment)

    def is_orderable(self, size: Decimal, price: Decimal) -> bool:
        """True when an order of ``size`` at ``price`` meets the lot grid and both minimums."""
        return (
            size > ZERO
            and self.on_lot(size)
            and size >= self.base_min_size
            and size * price >= self.quote_min_size
        )
