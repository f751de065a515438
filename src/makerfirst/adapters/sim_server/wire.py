"""Coinbase Advanced's JSON shapes (coinbase-advanced-api.md §3), built from domain objects.

Everything here is pure: domain types and plain dicts in, JSON-ready dicts out. Money is always
a decimal string without exponent; times are RFC 3339 UTC with microseconds.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.money import BPS, ZERO, plain
from makerfirst.domain.orders import (
    CancelOutcome,
    CancelResult,
    FeeRates,
    Fill,
    OrderReport,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
)
from makerfirst.domain.product import Product

Json = dict[str, Any]

# Stable ids for the simulator's single user, its portfolio and its accounts.
_NAMESPACE = uuid.UUID("6f1c2a9e-3b1d-4c55-9a57-2f3e8d0b7c41")
USER_ID = str(uuid.uuid5(_NAMESPACE, "user"))
PORTFOLIO_ID = str(uuid.uuid5(_NAMESPACE, "portfolio"))
FIAT = frozenset({"USD", "EUR", "GBP"})
QUOTE_MAX_SIZE = Decimal("10000000")
NO_TIME = "0001-01-01T00:00:00Z"

GTC, GTD, IOC = "limit_limit_gtc", "limit_limit_gtd", "sor_limit_ioc"
MARKET_IOC, FOK = "market_market_ioc", "limit_limit_fok"  # served as IOCs (taker_configs.py)
TIME_IN_FORCE = {
    GTC: "GOOD_UNTIL_CANCELLED",
    GTD: "GOOD_UNTIL_DATE_TIME",
    IOC: "IMMEDIATE_OR_CANCEL",
    MARKET_IOC: "IMMEDIATE_OR_CANCEL",
    FOK: "FILL_OR_KILL",
}


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch; accepts ``Z`` or an offset and up to nanoseconds (cut to micro)."""
    trimmed = _FRACTION.sub(r"\1", text.strip(), count=1)
    moment = datetime.fromisoformat(trimmed.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.timestamp()


def account_id(currency: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"account:{currency}"))


# -- create order ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateFailure:
    """Why an order was not created, as Coinbase spells it in ``error_response``."""

    error: str
    preview_failure_reason: str
    message: str = ""


UNSUPPORTED_CONFIG = "UNSUPPORTED_ORDER_CONFIGURATION"
_REJECTIONS: dict[RejectReason, CreateFailure] = {
    RejectReason.POST_ONLY_WOULD_CROSS: CreateFailure(
        "INVALID_LIMIT_PRICE_POST_ONLY",
        "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        "Invalid limit price for post-only order",
    ),
    RejectReason.INSUFFICIENT_FUND: CreateFailure(
        "INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND", "Insufficient balance in source account"
    ),
    RejectReason.INVALID_SIZE_PRECISION: CreateFailure(
        "INVALID_SIZE_PRECISION", "PREVIEW_INVALID_SIZE_PRECISION", "Invalid order size precision"
    ),
    RejectReason.INVALID_PRICE_PRECISION: CreateFailure(
        "INVALID_PRICE_PRECISION", "PREVIEW_INVALID_PRICE_PRECISION", "Invalid limit price precision"
    ),
    RejectReason.SIZE_TOO_SMALL: CreateFailure(
        "UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", "Order size is too small"
    ),
    RejectReason.NOTIONAL_TOO_SMALL: CreateFailure(
        "UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL", "Order value is too small"
    ),
    RejectReason.INVALID_PRODUCT_ID: CreateFailure(
        "INVALID_PRODUCT_ID", "PREVIEW_INVALID_PRODUCT_ID", "Invalid product_id"
    ),
    RejectReason.TRADING_DISABLED: CreateFailure(
        "ORDER_ENTRY_DISABLED", "PREVIEW_TRADING_DISABLED", "Trading is disabled for this product"
    ),
    RejectReason.END_TIME_IN_PAST: CreateFailure(
        "END_TIME_IS_IN_THE_PAST", "PREVIEW_INVALID_END_TIME", "end_time is in the past"
    ),
    RejectReason.GTD_WITHOUT_END_TIME: CreateFailure(
        "GTD_ORDERS_MUST_HAVE_END_TIME", "PREVIEW_INVALID_END_TIME", "GTD orders must have an end_time"
    ),
    RejectReason.UNKNOWN: CreateFailure("UNKNOWN_FAILURE_REASON", "UNKNOWN_PREVIEW_FAILURE_REASON"),
}
INVALID_SIDE = CreateFailure("INVALID_SIDE", "PREVIEW_INVALID_SIDE", "Invalid side")
SIZE_TOO_LARGE = CreateFailure(
    "UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE", "Order size is too large"
)


def unsupported(message: str) -> CreateFailure:
    return CreateFailure(UNSUPPORTED_CONFIG, "PREVIEW_INVALID_ORDER_CONFIG", message)


def rejection(reason: RejectReason) -> CreateFailure:
    return _REJECTIONS[reason]


def create_failure(failure: CreateFailure, order_configuration: Any) -> Json:
    """HTTP 200 with ``success: false``: ``error``, ``new_order_failure_reason`` and
    ``preview_failure_reason`` all name the same cause, as §3.1 asks of a simulator."""
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": failure.error,
            "message": failure.message,
            "error_details": failure.message,
            "preview_failure_reason": failure.preview_failure_reason,
            "new_order_failure_reason": failure.error,
        },
        "order_configuration": order_configuration,
    }


def create_success(report: OrderReport, order_configuration: Json) -> Json:
    return {
        "success": True,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": report.order_id,
        "success_response": {
            "order_id": report.order_id,
            "product_id": report.product_id,
            "side": report.side.value,
            "client_order_id": report.client_order_id,
        },
        "order_configuration": order_configuration,
    }


def configuration_of(report: OrderReport) -> Json:
    """The ``order_configuration`` an order of ours was created with (GTC when it never ends)."""
    size, price = plain(report.size), plain(report.limit_price)
    if report.order_type is OrderType.LIMIT_IOC:
        return {IOC: {"base_size": size, "limit_price": price}}
    end = report.end_time
    if end is None or math.isinf(end):
        return {GTC: {"base_size": size, "limit_price": price, "post_only": True}}
    return {GTD: {"base_size": size, "limit_price": price, "end_time": rfc3339(end), "post_only": True}}


# -- orders, fills, cancels -------------------------------------------------------------------------
def order(report: OrderReport, configuration: Json, fills: list[Fill], taker_fee: Decimal) -> Json:
    """The full Order object of §3.3 (``fills`` are this order's)."""
    kind = next(iter(configuration))
    side_is_buy = report.side is Side.BUY
    remaining = report.size - report.filled_size
    # What is still held: the rest of a buy's quote (with the taker fee, as the hold was taken)
    # or the rest of a sell's base; nothing once the order is done.
    hold = ZERO
    if not report.status.is_terminal:
        hold = remaining * report.limit_price * (1 + taker_fee) if side_is_buy else remaining
    after_fees = (
        report.filled_value + report.total_fees if side_is_buy else report.filled_value - report.total_fees
    )
    last_fill = max((f.time for f in fills), default=None)
    return {
        "order_id": report.order_id,
        "product_id": report.product_id,
        "user_id": USER_ID,
        "order_configuration": configuration,
        "side": report.side.value,
        "client_order_id": report.client_order_id,
        "status": report.status.value,
        "time_in_force": TIME_IN_FORCE.get(kind, "UNKNOWN_TIME_IN_FORCE"),
        "created_time": rfc3339(report.created_time),
        "completion_percentage": plain(report.filled_size / report.size * 100),
        "filled_size": plain(report.filled_size),
        "average_filled_price": plain(report.average_filled_price),
        "fee": "",
        "number_of_fills": str(len(fills)),
        "filled_value": plain(report.filled_value),
        "pending_cancel": report.status is OrderStatus.CANCEL_QUEUED,
        "size_in_quote": "quote_size" in configuration[kind],
        "total_fees": plain(report.total_fees),
        "size_inclusive_of_fees": "quote_size" in configuration[kind] and side_is_buy,
        "total_value_after_fees": plain(after_fees),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": "MARKET" if kind == MARKET_IOC else "LIMIT",
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": report.status.is_terminal,
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": "",
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": plain(hold),
        "is_liquidation": False,
        "last_fill_time": rfc3339(last_fill) if last_fill is not None else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "",
        "retail_portfolio_id": PORTFOLIO_ID,
        "originating_order_id": "",
        "attached_order_id": "",
    }


def fill(f: Fill) -> Json:
    return {
        "entry_id": str(uuid.uuid5(_NAMESPACE, f"entry:{f.trade_id}")),
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "trade_time": rfc3339(f.time),
        "trade_type": "FILL",
        "price": plain(f.price),
        "size": plain(f.size),  # base units, hence size_in_quote false
        "commission": plain(f.fee),
        "product_id": f.product_id,
        "sequence_timestamp": rfc3339(f.time),
        "liquidity_indicator": f.liquidity.value,
        "size_in_quote": False,
        "user_id": USER_ID,
        "side": f.side.value,
        "retail_portfolio_id": PORTFOLIO_ID,
    }


def cancel_result(result: CancelResult) -> Json:
    """One ``batch_cancel`` result: an accepted cancel still carries the enum's default reason."""
    accepted = result.outcome is CancelOutcome.ACCEPTED
    return {
        "success": accepted,
        "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON" if accepted else result.outcome.value,
        "order_id": result.order_id,
    }


# -- accounts ----------------------------------------------------------------------------------------
def account(currency: str, available: Decimal, hold: Decimal, created: float) -> Json:
    return {
        "uuid": account_id(currency),
        "name": f"{currency} Wallet",
        "currency": currency,
        "available_balance": {"value": plain(available), "currency": currency},
        "default": False,
        "active": True,
        "created_at": rfc3339(created),
        "updated_at": rfc3339(created),
        "deleted_at": None,
        "type": "ACCOUNT_TYPE_FIAT" if currency in FIAT else "ACCOUNT_TYPE_CRYPTO",
        "ready": True,
        "hold": {"value": plain(hold), "currency": currency},
        "retail_portfolio_id": PORTFOLIO_ID,
        "platform": "ACCOUNT_PLATFORM_CONSUMER",
    }


def v2_account(currency: str, total: Decimal, created: float) -> Json:
    """The legacy ``/v2/accounts`` row ccxt reads by default (total balance only, no holds)."""
    return {
        "id": account_id(currency),
        "name": f"{currency} Wallet",
        "primary": False,
        "type": "fiat" if currency in FIAT else "wallet",
        "currency": {"code": currency, "name": currency},
        "balance": {"amount": plain(total), "currency": currency},
        "created_at": rfc3339(created),
        "updated_at": rfc3339(created),
        "resource": "account",
    }


# -- products and books ------------------------------------------------------------------------------
def _mid(book: OrderBook) -> Decimal | None:
    return book.mid if book.bids and book.asks else None


def product(p: Product, book: OrderBook, volume_24h_quote: Decimal = Decimal(0)) -> Json:
    """A product as Coinbase lists it; ``volume_24h`` is in base units, as Coinbase reports it."""
    mid = _mid(book)
    volume_base = (volume_24h_quote / mid).quantize(p.base_increment) if mid else Decimal(0)
    status = "offline" if p.trading_disabled else "online"
    return {
        "product_id": p.product_id,
        "price": plain(mid) if mid is not None else "",
        "price_percentage_change_24h": "0",
        "volume_24h": plain(volume_base),
        "volume_percentage_change_24h": "0",
        "base_increment": plain(p.base_increment),
        "quote_increment": plain(p.price_increment),
        "quote_min_size": plain(p.quote_min_size),
        "quote_max_size": plain(QUOTE_MAX_SIZE),
        "base_min_size": plain(p.base_min_size),
        "base_max_size": plain(p.base_max_size) if p.base_max_size is not None else "",
        "base_name": p.base_currency,
        "quote_name": p.quote_currency,
        "watched": False,
        "is_disabled": p.trading_disabled,
        "new": False,
        "status": status,
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": p.trading_disabled,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": p.quote_currency,
        "base_currency_id": p.base_currency,
        "fcm_trading_session_details": None,
        "mid_market_price": plain(mid) if mid is not None else "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": p.base_currency,
        "quote_display_symbol": p.quote_currency,
        "view_only": False,
        "price_increment": plain(p.price_increment),
        "display_name": p.product_id,
        "product_venue": "CBE",
        "approximate_quote_24h_volume": plain(volume_24h_quote),
    }


def _levels(levels: tuple[Level, ...]) -> list[Json]:
    return [{"price": plain(level.price), "size": plain(level.size)} for level in levels]


def pricebook(book: OrderBook, now: float) -> Json:
    return {
        "product_id": book.product_id,
        "bids": _levels(book.bids),
        "asks": _levels(book.asks),
        "time": rfc3339(now),
    }


def product_book(book: OrderBook, now: float) -> Json:
    """``/product_book``: the sim has no trade tape, so ``last`` is the mid."""
    mid = _mid(book)
    if mid is None:
        extra = {"last": "", "mid_market": "", "spread_bps": "", "spread_absolute": ""}
    else:
        spread = book.best_ask - book.best_bid
        extra = {
            "last": plain(mid),
            "mid_market": plain(mid),
            "spread_bps": plain(spread / mid * BPS),
            "spread_absolute": plain(spread),
        }
    return {"pricebook": pricebook(book, now), **extra}


def transaction_summary(fees: FeeRates, volume: Decimal, total_fees: Decimal) -> Json:
    return {
        "total_volume": plain(volume),
        "total_fees": plain(total_fees),
        "fee_tier": {
            "pricing_tier": "Intro 1",
            "usd_from": "0",
            "usd_to": "1000",
            "taker_fee_rate": plain(fees.taker),
            "maker_fee_rate": plain(fees.maker),
            "aop_from": "",
            "aop_to": "",
        },
        "margin_rate": None,
        "goods_and_services_tax": None,
        "advanced_trade_only_volume": plain(volume),
        "advanced_trade_only_fees": plain(total_fees),
        "coinbase_pro_volume": "0",
        "coinbase_pro_fees": "0",
        "total_balance": "",
        "has_promo_fee": False,
    }


def server_time(now: float) -> Json:
    return {"iso": rfc3339(now), "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))}


# -- legacy /v2 public routes ccxt's load_markets calls ----------------------------------------------
def v2_currencies(products: list[Product]) -> Json:
    fiat = sorted({c for p in products for c in (p.base_currency, p.quote_currency) if c in FIAT})
    return {"data": [{"id": c, "name": c, "min_size": "0.01"} for c in fiat]}


def v2_crypto_currencies(products: list[Product]) -> Json:
    crypto = sorted({c for p in products for c in (p.base_currency, p.quote_currency) if c not in FIAT})
    return {
        "data": [
            {
                "asset_id": str(uuid.uuid5(_NAMESPACE, f"asset:{code}")),
                "code": code,
                "name": code,  # ccxt lower-cases it: it must be a string
                "color": "#000000",
                "sort_index": index,
                "exponent": 8,
                "type": "crypto",
            }
            for index, code in enumerate(crypto)
        ]
    }


_RATE_CONTEXT = Context(prec=12)


def v2_exchange_rates(mids: dict[str, Decimal]) -> Json:
    """Units of each currency per USD, from the mids of the ``*-USD`` products."""
    rates = {"USD": "1"}
    for product_id, mid in sorted(mids.items()):
        base, _, quote = product_id.partition("-")
        if quote == "USD" and mid > ZERO:
            rates[base] = plain(_RATE_CONTEXT.divide(Decimal(1), mid))
    return {"data": {"currency": "USD", "rates": rates}}


def v2_time(now: float) -> Json:
    return {"data": {"iso": rfc3339(now).split(".")[0] + "Z", "epoch": int(now)}}


# -- plain errors ------------------------------------------------------------------------------------
def error(code: str, message: str) -> Json:
    return {"error": code, "error_details": message, "message": message}


ORDER_NOT_FOUND = error("NOT_FOUND", "order with this orderID was not found")
ROUTE_NOT_FOUND = error("NOT_FOUND", "Not Found")
