"""Where orders are priced: maker at the opposite touch plus a cushion, taker through the touch by a cap."""

from __future__ import annotations

from decimal import Decimal

from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import BPS
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product


def maker_price(book: OrderBook, side: Side, cushion_ticks: int, product: Product) -> Decimal:
    """Post-only price ``cushion_ticks`` away from the opposite touch, on the product's tick.

    A sell rests at best bid + cushion ticks: with ``cushion_ticks >= 1`` it never crosses the
    book it was priced from, and inside a wide spread it becomes the new best ask. A buy mirrors it.
    """
    step = cushion_ticks * product.price_increment
    if side is Side.SELL:
        return product.price_ceil(book.best_bid + step)
    return product.price_floor(book.best_ask - step)


def taker_limit_price(book: OrderBook, side: Side, max_slippage_bps: int, product: Product) -> Decimal:
    """Limit-IOC price ``max_slippage_bps`` through the touch, rounded towards the touch.

    A sell never fills below best bid × (1 − cap) as seen at decision time; a buy never above
    best ask × (1 + cap). Rounding towards the touch keeps the cap a hard bound.
    """
    cap = Decimal(max_slippage_bps) / BPS
    if side is Side.SELL:
        return product.price_ceil(book.best_bid * (1 - cap))
    return product.price_floor(book.best_ask * (1 + cap))


def orderable_taker_price(
    price: Decimal, size: Decimal, side: Side, book: OrderBook, product: Product
) -> Decimal:
    """A sell IOC's limit ``price`` raised toward the bid when at ``price`` the order's notional
    would be under the product's minimum (the venue rejects it) though at the bid it is not: the
    least price on the tick whose notional is the minimum. It still crosses (at most the bid) and
    stays inside the cap (it only moves toward the touch); a buy's cap price only raises its notional.
    """
    if side is not Side.SELL or size <= 0 or size * price >= product.quote_min_size:
        return price
    least = product.price_ceil(product.quote_min_size / size)
    return least if least <= book.best_bid else price
