"""Venue payloads → domain types. The only module that knows Coinbase's field names.

Numbers come from the raw ``info`` strings where the venue sends strings (Coinbase does, for
every price, size and fee); a ccxt number is turned into a ``Decimal`` through ``str()``, which
gives back the shortest decimal that reads as the same float. Nothing here builds a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from makerfirst.adapters.ccxt_exchange.capabilities import PayloadDialect, VenueCapabilities
from makerfirst.adapters.ccxt_exchange.client import JsonDict
from makerfirst.adapters.products_file import parse_product
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.errors import PayloadError as PayloadError  # noqa: PLC0414  # re-exported
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import (
    CancelOutcome,
    FeeRates,
    Fill,
    Liquidity,
    OrderReport,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
)
from makerfirst.domain.product import Product

MarketIdOf = Callable[[str], str]  # unified symbol → venue market id

# Coinbase order configurations that take liquidity and never rest.
_COINBASE_IOC_CONFIGS = frozenset(
    {"sor_limit_ioc", "market_market_ioc", "limit_limit_fok", "market_market_fok"}
)
_COINBASE_NO_REASON = frozenset({"", "UNKNOWN_FAILURE_REASON", "UNKNOWN_CANCEL_FAILURE_REASON"})
_FRACTION = re.compile(r"(\.\d{6})\d+")  # fromisoformat takes at most microseconds


# -- scalars ---------------------------------------------------------------------------------------
def decimal_of(value: object, *, field: str) -> Decimal:
    """A ``Decimal`` from a venue string, int or ccxt float (via ``str``); refuses anything else."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{field}: expected a number, got {value!r}")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{field}: not a decimal number: {value!r}") from None


def decimal_or_zero(value: object, *, field: str) -> Decimal:
    return ZERO if value in (None, "") else decimal_of(value, field=field)


def epoch_of_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 UTC time (``Z`` or an offset; any fraction digits)."""
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"not an RFC 3339 time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def rfc3339_of_epoch(seconds: float) -> str:
    """``2024-01-15T10:30:00.250Z`` for epoch seconds: millisecond precision, UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return "" if value is None else str(value)


def _side(value: object) -> Side:
    try:
        return Side(str(value).upper())
    except ValueError:
        raise PayloadError(f"unknown side {value!r}") from None


# -- products, books, balances, fees ---------------------------------------------------------------
def product_of_market(market: JsonDict, dialect: PayloadDialect) -> Product:
    """A product from a ccxt market: Coinbase's own increment strings from ``info``, else ccxt's
    tick-size precision and limits."""
    if dialect is PayloadDialect.COINBASE_ADVANCED:
        return parse_product(dict(market.get("info") or {}), "coinbase products")
    precision, limits = market.get("precision") or {}, market.get("limits") or {}
    where = str(market.get("id"))
    amount_limits, cost_limits = limits.get("amount") or {}, limits.get("cost") or {}
    return Product(
        product_id=where,
        base_currency=str(market.get("base")),
        quote_currency=str(market.get("quote")),
        price_increment=decimal_of(precision.get("price"), field=f"{where} precision.price"),
        base_increment=decimal_of(precision.get("amount"), field=f"{where} precision.amount"),
        base_min_size=decimal_or_zero(amount_limits.get("min"), field=f"{where} limits.amount.min"),
        quote_min_size=decimal_or_zero(cost_limits.get("min"), field=f"{where} limits.cost.min"),
        base_max_size=(
            decimal_of(amount_limits["max"], field=f"{where} limits.amount.max")
            if amount_limits.get("max") is not None
            else None
        ),
        trading_disabled=market.get("active") is False,
    )


def volume_24h_quote_of(market: JsonDict) -> Decimal:
    """24 h volume in quote currency from a market's raw product: Coinbase's
    ``approximate_quote_24h_volume``, else ``volume_24h`` (base units) × ``price``; ccxt's unified
    ``quoteVolume`` is not on markets, so other venues report 0 here (and tier as illiquid)."""
    info = market.get("info") or {}
    quote = decimal_or_zero(info.get("approximate_quote_24h_volume"), field="approximate_quote_24h_volume")
    if quote > ZERO:
        return quote
    base = decimal_or_zero(info.get("volume_24h"), field="volume_24h")
    return base * decimal_or_zero(info.get("price"), field="price")


def order_book_of(product_id: str, raw: JsonDict, depth: int, now: float) -> OrderBook:
    """Bids best-first (descending), asks best-first (ascending), whatever order they came in."""

    def levels(key: str) -> list[Level]:
        rows = raw.get(key) or []
        return [
            Level(decimal_of(row[0], field=f"{key} price"), decimal_of(row[1], field=f"{key} size"))
            for row in rows
        ]

    bids = sorted(levels("bids"), key=lambda level: level.price, reverse=True)[:depth]
    asks = sorted(levels("asks"), key=lambda level: level.price)[:depth]
    stamp = raw.get("timestamp")
    return OrderBook(
        product_id=product_id,
        bids=tuple(bids),
        asks=tuple(asks),
        timestamp=int(stamp) / 1000 if isinstance(stamp, int | float) and stamp > 0 else now,
    )


def available_balances(raw: JsonDict, dialect: PayloadDialect) -> dict[str, Decimal]:
    """Available (not held) balance per currency."""
    return {currency: b.available for currency, b in balance_sheet_of(raw, dialect).items()}


def balance_sheet_of(raw: JsonDict, dialect: PayloadDialect) -> dict[str, Balance]:
    """Available and on-hold balance per currency, from one ``fetch_balance`` answer: Coinbase's
    accounts (``available_balance``, ``hold``), or ccxt's unified ``free`` and ``used``."""
    result: dict[str, Balance] = {}
    if dialect is PayloadDialect.COINBASE_ADVANCED:
        info = raw.get("info") or {}
        for account in info.get("accounts") or []:
            available = account.get("available_balance") or {}
            hold = account.get("hold") or {}
            currency = str(available.get("currency") or account.get("currency"))
            free = decimal_or_zero(available.get("value"), field=f"{currency} available_balance")
            held = decimal_or_zero(hold.get("value"), field=f"{currency} hold")
            known = result.get(currency, Balance(ZERO))
            result[currency] = Balance(known.available + free, known.hold + held)
        return result
    unified_free: JsonDict = raw.get("free") or {}
    unified_used: JsonDict = raw.get("used") or {}
    for currency in set(unified_free) | set(unified_used):
        result[str(currency)] = Balance(
            decimal_or_zero(unified_free.get(currency), field=f"{currency} free"),
            decimal_or_zero(unified_used.get(currency), field=f"{currency} used"),
        )
    return result


def fee_rates_of(raw: Mapping[str, JsonDict], dialect: PayloadDialect) -> FeeRates:
    """Maker/taker fractions from ccxt's fetch_trading_fees answer (every symbol has the same tier)."""
    if not raw:
        raise PayloadError("the venue reported no trading fees")
    entry = next(iter(raw.values()))
    if dialect is PayloadDialect.COINBASE_ADVANCED:
        tier = (entry.get("info") or {}).get("fee_tier") or {}
        return FeeRates(
            maker=decimal_of(tier.get("maker_fee_rate"), field="fee_tier.maker_fee_rate"),
            taker=decimal_of(tier.get("taker_fee_rate"), field="fee_tier.taker_fee_rate"),
        )
    return FeeRates(
        maker=decimal_of(entry.get("maker"), field="maker"),
        taker=decimal_of(entry.get("taker"), field="taker"),
    )


# -- orders and fills ------------------------------------------------------------------------------
def order_report_of(order: JsonDict, caps: VenueCapabilities, market_id_of: MarketIdOf) -> OrderReport:
    """A report from a ccxt order (its raw ``info`` for Coinbase) or a raw Coinbase order."""
    if caps.dialect is PayloadDialect.COINBASE_ADVANCED:
        info = order.get("info")
        return coinbase_order_report(info if isinstance(info, dict) else order, caps.status_map)
    return _unified_order_report(order, caps.status_map, market_id_of)


def coinbase_order_report(info: JsonDict, status_map: Mapping[str, OrderStatus]) -> OrderReport:
    """Coinbase's Order object (Get Order / List Orders) as a report.

    ``sor_limit_ioc`` and the other never-resting configurations map to ``LIMIT_IOC``; any resting
    limit (``limit_limit_gtd``, and a ``limit_limit_gtc`` placed by hand) to ``POST_ONLY_GTD``.
    """
    order_id = _text(info, "order_id")
    configs = info.get("order_configuration") or {}
    kind, config = next(iter(configs.items())) if configs else ("", {})
    config = config or {}
    filled = decimal_or_zero(info.get("filled_size"), field=f"{order_id} filled_size")
    size_text = config.get("base_size")
    limit_text = config.get("limit_price") or info.get("average_filled_price")
    end_text = _text(config, "end_time")
    raw_status = _text(info, "status")
    status = status_map.get(raw_status)
    if status is None:
        raise PayloadError(f"order {order_id}: unknown status {raw_status!r}")
    return OrderReport(
        order_id=order_id,
        client_order_id=_text(info, "client_order_id"),
        product_id=_text(info, "product_id"),
        side=_side(info.get("side")),
        order_type=OrderType.LIMIT_IOC if kind in _COINBASE_IOC_CONFIGS else OrderType.POST_ONLY_GTD,
        status=status,
        size=decimal_of(size_text, field=f"{order_id} base_size") if size_text else filled,
        limit_price=decimal_or_zero(limit_text, field=f"{order_id} limit_price"),
        filled_size=filled,
        filled_value=decimal_or_zero(info.get("filled_value"), field=f"{order_id} filled_value"),
        total_fees=decimal_or_zero(info.get("total_fees"), field=f"{order_id} total_fees"),
        created_time=epoch_of_rfc3339(_text(info, "created_time")) if info.get("created_time") else 0.0,
        end_time=epoch_of_rfc3339(end_text) if end_text and not end_text.startswith("0001-") else None,
    )


def _unified_order_report(
    order: JsonDict, status_map: Mapping[str, OrderStatus], market_id_of: MarketIdOf
) -> OrderReport:
    order_id = str(order.get("id"))
    raw_status = str(order.get("status"))
    status = status_map.get(raw_status)
    if status is None:
        raise PayloadError(f"order {order_id}: unknown status {raw_status!r}")
    fee = order.get("fee") or {}
    timestamp = order.get("timestamp")
    return OrderReport(
        order_id=order_id,
        client_order_id=str(order.get("clientOrderId") or ""),
        product_id=market_id_of(str(order.get("symbol"))),
        side=_side(order.get("side")),
        order_type=(
            OrderType.LIMIT_IOC if order.get("timeInForce") in ("IOC", "FOK") else OrderType.POST_ONLY_GTD
        ),
        status=status,
        size=decimal_or_zero(order.get("amount"), field=f"{order_id} amount"),
        limit_price=decimal_or_zero(order.get("price"), field=f"{order_id} price"),
        filled_size=decimal_or_zero(order.get("filled"), field=f"{order_id} filled"),
        filled_value=decimal_or_zero(order.get("cost"), field=f"{order_id} cost"),
        total_fees=decimal_or_zero(fee.get("cost"), field=f"{order_id} fee"),
        created_time=int(timestamp) / 1000 if isinstance(timestamp, int | float) else 0.0,
    )


def coinbase_fill(raw: JsonDict) -> Fill:
    """One Coinbase fill; a quote-sized fill's ``size`` is converted to base units."""
    trade_id = _text(raw, "trade_id")
    price = decimal_of(raw.get("price"), field=f"fill {trade_id} price")
    size = decimal_of(raw.get("size"), field=f"fill {trade_id} size")
    if raw.get("size_in_quote") is True and price > ZERO:
        size = size / price
    indicator = _text(raw, "liquidity_indicator").upper()
    return Fill(
        trade_id=trade_id,
        order_id=_text(raw, "order_id"),
        product_id=_text(raw, "product_id"),
        side=_side(raw.get("side")),
        price=price,
        size=size,
        fee=decimal_or_zero(raw.get("commission"), field=f"fill {trade_id} commission"),
        # UNKNOWN_LIQUIDITY_INDICATOR is counted as taker: the costlier assumption.
        liquidity=Liquidity.MAKER if indicator == "MAKER" else Liquidity.TAKER,
        time=epoch_of_rfc3339(_text(raw, "trade_time")) if raw.get("trade_time") else 0.0,
    )


def unified_fill(trade: JsonDict, market_id_of: MarketIdOf) -> Fill:
    trade_id = str(trade.get("id"))
    fee = trade.get("fee") or {}
    timestamp = trade.get("timestamp")
    return Fill(
        trade_id=trade_id,
        order_id=str(trade.get("order")),
        product_id=market_id_of(str(trade.get("symbol"))),
        side=_side(trade.get("side")),
        price=decimal_of(trade.get("price"), field=f"trade {trade_id} price"),
        size=decimal_of(trade.get("amount"), field=f"trade {trade_id} amount"),
        fee=decimal_or_zero(fee.get("cost"), field=f"trade {trade_id} fee"),
        liquidity=Liquidity.MAKER if trade.get("takerOrMaker") == "maker" else Liquidity.TAKER,
        time=int(timestamp) / 1000 if isinstance(timestamp, int | float) else 0.0,
    )


# -- rejections and cancels ------------------------------------------------------------------------
def failure_codes(body: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Every failure code in a create answer, most specific first.

    Coinbase spreads the reason over ``error`` (deprecated), ``new_order_failure_reason`` and
    ``preview_failure_reason``, and live traffic has carried the real code in any one of them
    with ``UNKNOWN_FAILURE_REASON`` in the others.
    """
    if not body:
        return ()
    inner = body.get("error_response")
    source = inner if isinstance(inner, dict) else body
    codes = [_text(source, key) for key in ("new_order_failure_reason", "error", "preview_failure_reason")]
    return tuple(code for code in codes if code not in _COINBASE_NO_REASON)


def reject_reason_of(codes: tuple[str, ...], caps: VenueCapabilities) -> RejectReason:
    """Post-only-would-cross wins whichever field carries it; then the first code the table knows."""
    if any(code in caps.post_only_reject_codes for code in codes):
        return RejectReason.POST_ONLY_WOULD_CROSS
    for code in codes:
        if code in caps.reject_reasons:
            return caps.reject_reasons[code]
    return RejectReason.UNKNOWN


def reject_message_of(body: Mapping[str, Any] | None, fallback: str) -> str:
    inner = (body or {}).get("error_response")
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])
    return fallback


def coinbase_cancel_answers(raw: JsonDict, requested: list[str]) -> dict[str, tuple[bool, str]]:
    """Per-order results of ``batch_cancel`` keyed by order id (falling back to position)."""
    results = raw.get("results")
    if not isinstance(results, list):
        raise PayloadError("batch_cancel answered without results")
    answers: dict[str, tuple[bool, str]] = {}
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            continue
        order_id = _text(result, "order_id") or (requested[index] if index < len(requested) else "")
        answers[order_id] = (result.get("success") is True, _text(result, "failure_reason"))
    return answers


def cancel_outcome_of_status(status: OrderStatus) -> CancelOutcome | None:
    """What a cancel amounts to for an order seen in ``status``; None while the order still lives."""
    if status is OrderStatus.FILLED:
        return CancelOutcome.ALREADY_FILLED
    if status.is_terminal or status is OrderStatus.CANCEL_QUEUED:
        return CancelOutcome.ALREADY_DONE
    return None
