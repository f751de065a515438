"""Dust: holdings no order can sell. They are set aside in a ledger with the reason and value,
reported, and not retried until something that could make them sellable changes.

A holding is dust when (first match wins):

* ``NO_MARKET`` — no product trades it against the quote currency;
* ``TRADING_DISABLED`` — the product exists but takes no orders;
* ``BELOW_MIN_SIZE`` — what is on the lot grid is zero or below ``base_min_size``;
* ``BELOW_MIN_NOTIONAL`` — it is worth less than ``quote_min_size`` at the price a sell gets
  (the best bid, the same price the TWAP loop checks before each slice).

A ledger entry records the holding's size, its value and the product's rules when it was set
aside. :func:`still_dust` keeps it (so no purge is started) until the holding grew, a market
appeared or vanished, the product's rules changed, or the holding passes both minimums at the
current price. Then it is classified afresh, which either sells it or records it again.
Entries can also come from the execution side: a loop that ended ``DUST`` at its own touch
price is recorded with :meth:`DustEntry.record` and waits for the same changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.money import ZERO
from makerfirst.domain.product import Product


class DustReason(StrEnum):
    BELOW_MIN_SIZE = "below_min_size"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    TRADING_DISABLED = "trading_disabled"
    NO_MARKET = "no_market"


@dataclass(frozen=True, slots=True)
class ProductRules:
    """The parts of a product that decide whether a holding can be sold."""

    base_increment: Decimal
    base_min_size: Decimal
    quote_min_size: Decimal
    trading_disabled: bool

    @classmethod
    def of(cls, product: Product) -> ProductRules:
        return cls(
            product.base_increment, product.base_min_size, product.quote_min_size, product.trading_disabled
        )


@dataclass(frozen=True, slots=True)
class DustEntry:
    """One holding set aside as dust.

    ``size`` in base units; ``value`` in quote at ``price`` (the best bid when recorded), ``None``
    without a price; ``rules`` is ``None`` when there was no market; ``recorded_at`` in epoch seconds.
    """

    asset: str
    reason: DustReason
    size: Decimal
    price: Decimal | None
    rules: ProductRules | None
    recorded_at: float

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else self.size * self.price

    @classmethod
    def record(
        cls,
        asset: str,
        reason: DustReason,
        size: Decimal,
        *,
        product: Product | None,
        price: Decimal | None,
        now: float,
    ) -> DustEntry:
        """An entry for ``size`` of ``asset``, with ``product``'s rules and the ``price`` it was valued at."""
        return cls(asset, reason, size, price, None if product is None else ProductRules.of(product), now)


def dust_reason(size: Decimal, product: Product | None, bid: Decimal | None) -> DustReason | None:
    """Why no sell order can take ``size`` (base units), or ``None`` if one can.

    ``bid`` is the best bid in quote; with ``None`` (no bids) the notional minimum cannot be
    judged, so only the other reasons apply and the caller must wait for a price.
    """
    if product is None:
        return DustReason.NO_MARKET
    if product.trading_disabled:
        return DustReason.TRADING_DISABLED
    sellable = product.size_floor(size)
    if sellable <= ZERO or sellable < product.base_min_size:
        return DustReason.BELOW_MIN_SIZE
    if bid is not None and sellable * bid < product.quote_min_size:
        return DustReason.BELOW_MIN_NOTIONAL
    return None


def still_dust(entry: DustEntry, size: Decimal, product: Product | None, bid: Decimal | None) -> bool:
    """True while nothing that could make ``entry`` sellable has changed, so it is not retried.

    It is retried (``False``) when the holding grew beyond the recorded size, a market appeared
    or vanished, the product's rules changed (lot, minimums, trading flag), or the holding now
    passes both minimums at ``bid``. A holding that only shrank stays dust.
    """
    if product is None or entry.rules is None:
        return product is None and entry.rules is None
    if ProductRules.of(product) != entry.rules or size > entry.size:
        return False
    if product.trading_disabled or bid is None:
        return True
    return not product.is_orderable(product.size_floor(size), bid)
