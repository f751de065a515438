"""``POST /orders/preview`` and ``POST /orders/edit`` answers (coinbase-advanced-api.md §3.1).

A preview creates nothing: it prices the order against the book now (a resting post-only order at
its limit with the maker fee; an IOC walking the opposite side down to its limit with the taker fee)
and lists in ``errs`` the ``preview_failure_reason`` a create would meet (post-only crossing, funds,
and every check the create path makes). An edit answers ``{"success", "errors"}``; a refusal names
Coinbase's ``edit_failure_reason`` and, where a create would name one, the preview reason too.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from makerfirst.adapters.sim.exchange import EditRefusal
from makerfirst.adapters.sim_server.wire import CreateFailure, Json
from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import ZERO, plain
from makerfirst.domain.orders import FeeRates, PlaceOrder, Side
from makerfirst.domain.product import Product

_EDIT_PREVIEW_REASON = {
    EditRefusal.POST_ONLY_WOULD_CROSS: "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
    EditRefusal.INSUFFICIENT_FUND: "PREVIEW_INSUFFICIENT_FUND",
}


def preview(
    command: PlaceOrder | CreateFailure,
    product: Product | None,
    book: OrderBook | None,
    fees: FeeRates,
    available: dict[str, Decimal],
) -> Json:
    """The preview answer for a parsed create body (``command``) on ``book`` with ``available`` funds."""
    errs: list[str] = []
    value = commission = size = ZERO
    if isinstance(command, CreateFailure) or product is None or book is None:
        if isinstance(command, CreateFailure):
            errs.append(command.preview_failure_reason)
    else:
        size = command.size
        if command.post_only:
            crosses = (
                bool(book.bids) and command.limit_price <= book.bids[0].price
                if command.side is Side.SELL
                else bool(book.asks) and command.limit_price >= book.asks[0].price
            )
            if crosses:
                errs.append("PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY")
            value, rate = size * command.limit_price, fees.maker
        else:
            size, value = _walk(book, command)
            rate = fees.taker
        commission = value * rate
        if command.side is Side.SELL:
            short = available.get(product.base_currency, ZERO) < command.size
        else:
            short = available.get(product.quote_currency, ZERO) < value + commission
        if short:
            errs.append("PREVIEW_INSUFFICIENT_FUND")
    is_buy = not isinstance(command, CreateFailure) and command.side is Side.BUY
    return {
        "order_total": plain(value + commission if is_buy else value - commission),
        "commission_total": plain(commission),
        "errs": errs,
        "warning": [],
        "quote_size": plain(value),
        "base_size": plain(size),
        "best_bid": plain(book.bids[0].price) if book and book.bids else "0",
        "best_ask": plain(book.asks[0].price) if book and book.asks else "0",
        "is_max": False,
        "order_margin_total": "0",
        "leverage": "",
        "long_leverage": "",
        "short_leverage": "",
        "slippage": "0",
        "preview_id": str(uuid.uuid4()) if not errs else "",
    }


def _walk(book: OrderBook, command: PlaceOrder) -> tuple[Decimal, Decimal]:
    """(base, quote value) an IOC takes now, walking the opposite side down to its limit."""
    levels = book.asks if command.side is Side.BUY else book.bids
    left, base, value, limit = command.size, ZERO, ZERO, command.limit_price
    for level in levels:
        beyond = level.price > limit if command.side is Side.BUY else level.price < limit
        if left <= 0 or beyond:
            break
        take = min(left, level.size)
        base, value, left = base + take, value + take * level.price, left - take
    return base, value


def edit_answer(refusal: EditRefusal | None) -> Json:
    if refusal is None:
        return {"success": True, "errors": []}
    preview_reason = _EDIT_PREVIEW_REASON.get(refusal)
    error = {
        "edit_failure_reason": "UNKNOWN_EDIT_ORDER_FAILURE_REASON" if preview_reason else refusal.value,
        "preview_failure_reason": preview_reason or "UNKNOWN_PREVIEW_FAILURE_REASON",
    }
    return {"success": False, "errors": [error]}
