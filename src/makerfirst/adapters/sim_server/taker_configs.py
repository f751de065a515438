"""``market_market_ioc`` and ``limit_limit_fok`` (coinbase-advanced-api.md §3.1) as the simulator's IOC.

The simulated exchange rests post-only orders and takes with limit IOC only; these two configurations
are translated against the book at the instant of the request (the caller holds the exchange):

* ``market_market_ioc`` with ``base_size``: a limit IOC of that size priced at the worst level the
  size reaches (the whole opposite side if it is not deep enough: the rest is cancelled, as a market
  IOC's is). With ``quote_size``: the base size that quote buys (or sells for) walking the book,
  fee included for a buy (``size_inclusive_of_fees``: ``filled_value = quote_size / (1 + taker)``),
  rounded down to the lot. An empty opposite side is ``INVALID_NO_LIQUIDITY``.
* ``limit_limit_fok``: if the book at or through ``limit_price`` holds the whole size, a limit IOC
  at ``limit_price`` (it fills completely); otherwise a limit IOC one tick short of the touch, which
  takes nothing: the order is created and ends ``CANCELLED`` with nothing filled, never partly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from makerfirst.adapters.sim_server.wire import CreateFailure, unsupported
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import OrderType, PlaceOrder, Side
from makerfirst.domain.product import Product

MARKET_IOC, FOK = "market_market_ioc", "limit_limit_fok"
NO_LIQUIDITY = CreateFailure("INVALID_NO_LIQUIDITY", "PREVIEW_INVALID_NO_LIQUIDITY", "No liquidity")


def _amount(fields: dict[str, Any], name: str) -> Decimal | None:
    text = fields.get(name)
    if text is None:
        return None
    try:
        value = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive decimal string, got {text!r}")
    return value


def translate(
    kind: str,
    fields: dict[str, Any],
    *,
    client_order_id: str,
    product: Product,
    side: Side,
    book: OrderBook,
    taker_fee: Decimal,
) -> PlaceOrder | CreateFailure:
    """The IOC that stands for ``kind`` now, or why it cannot be placed.

    Raises ``ValueError`` (naming the field) for a size or price that is not a positive decimal string.
    """
    opposite = book.asks if side is Side.BUY else book.bids
    if kind == MARKET_IOC:
        base, quote = _amount(fields, "base_size"), _amount(fields, "quote_size")
        if (base is None) == (quote is None):
            return unsupported("market_market_ioc needs exactly one of base_size and quote_size")
        if not opposite:
            return NO_LIQUIDITY
        if base is None:
            assert quote is not None
            spend = quote / (1 + taker_fee) if side is Side.BUY else quote
            base = product.size_floor(_base_for_quote(opposite, spend))
            if base <= ZERO:
                return unsupported("quote_size buys less than one lot")
        return PlaceOrder(
            client_order_id, product.product_id, side, OrderType.LIMIT_IOC, base, _reach(opposite, base)
        )
    size, limit = _amount(fields, "base_size"), _amount(fields, "limit_price")
    if size is None or limit is None:
        return unsupported("limit_limit_fok needs base_size and limit_price")
    through = [lv for lv in opposite if (lv.price <= limit if side is Side.BUY else lv.price >= limit)]
    if sum((lv.size for lv in through), start=ZERO) >= size:
        return PlaceOrder(client_order_id, product.product_id, side, OrderType.LIMIT_IOC, size, limit)
    price = limit
    if opposite:  # one tick short of the touch: takes nothing, so the order is killed whole
        tick = product.price_increment
        price = opposite[0].price - tick if side is Side.BUY else opposite[0].price + tick
        price = min(price, limit) if side is Side.BUY else max(price, limit)
    return PlaceOrder(client_order_id, product.product_id, side, OrderType.LIMIT_IOC, size, price)


def _reach(levels: tuple[Level, ...], size: Decimal) -> Decimal:
    """The price of the level where ``size`` is used up walking ``levels`` (else the last level's)."""
    left = size
    for level in levels:
        left -= level.size
        if left <= 0:
            return level.price
    return levels[-1].price


def _base_for_quote(levels: tuple[Level, ...], quote: Decimal) -> Decimal:
    """How much base ``quote`` is worth walking ``levels`` best first."""
    base, left = ZERO, quote
    for level in levels:
        value = level.price * level.size
        if value >= left:
            return base + left / level.price
        base += level.size
        left -= value
    return base
