"""Orders, their commands, events and reports, with Coinbase Advanced's statuses.

Names carry the grammar: ``PlaceOrder`` is a command, ``OrderAccepted`` / ``OrderRejected``
are events, ``OrderReport`` is what the exchange says about an order now.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.money import ZERO


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderStatus(StrEnum):
    """Coinbase Advanced's order statuses. There is no "partially filled": an open order with
    fills is ``OPEN`` with ``filled_size > 0``."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"
    QUEUED = "QUEUED"
    CANCEL_QUEUED = "CANCEL_QUEUED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.FAILED}
)


class OrderType(StrEnum):
    """The order configurations the bot sends (Coinbase's ``order_configuration`` keys)."""

    POST_ONLY_GTD = "limit_limit_gtd"  # maker: post_only=true, end_time backs up the TTL
    LIMIT_IOC = "sor_limit_ioc"  # taker: fills what it can down to its limit, the rest is cancelled


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class RejectReason(StrEnum):
    """Why an exchange refused to create an order (no order exists afterwards)."""

    POST_ONLY_WOULD_CROSS = "INVALID_LIMIT_PRICE_POST_ONLY"
    INSUFFICIENT_FUND = "INSUFFICIENT_FUND"
    INVALID_SIZE_PRECISION = "INVALID_SIZE_PRECISION"
    INVALID_PRICE_PRECISION = "INVALID_PRICE_PRECISION"
    SIZE_TOO_SMALL = "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
    NOTIONAL_TOO_SMALL = "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"
    INVALID_PRODUCT_ID = "INVALID_PRODUCT_ID"
    TRADING_DISABLED = "ORDER_ENTRY_DISABLED"
    END_TIME_IN_PAST = "END_TIME_IS_IN_THE_PAST"
    GTD_WITHOUT_END_TIME = "GTD_ORDERS_MUST_HAVE_END_TIME"
    UNKNOWN = "UNKNOWN_FAILURE_REASON"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Command: create one limit order. ``end_time`` (epoch seconds) is required for GTD."""

    client_order_id: str
    product_id: str
    side: Side
    order_type: OrderType
    size: Decimal
    limit_price: Decimal
    end_time: float | None = None

    @property
    def post_only(self) -> bool:
        return self.order_type is OrderType.POST_ONLY_GTD


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """Event: the exchange created the order; its state must be read with ``get_order``."""

    order_id: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """Event: the exchange refused the order synchronously; nothing rests."""

    client_order_id: str
    reason: RejectReason
    message: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders; ``fee`` is in quote currency."""

    trade_id: str
    order_id: str
    product_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: Liquidity
    time: float


@dataclass(frozen=True, slots=True)
class OrderReport:
    """What the exchange says about one order now."""

    order_id: str
    client_order_id: str
    product_id: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    size: Decimal
    limit_price: Decimal
    filled_size: Decimal
    filled_value: Decimal
    total_fees: Decimal
    created_time: float
    end_time: float | None = None

    @property
    def average_filled_price(self) -> Decimal:
        return self.filled_value / self.filled_size if self.filled_size > ZERO else ZERO


class CancelOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"  # the order may still fill until it is confirmed terminal
    ALREADY_FILLED = "ORDER_IS_FULLY_FILLED"
    ALREADY_DONE = "DUPLICATE_CANCEL_REQUEST"
    UNKNOWN_ORDER = "UNKNOWN_CANCEL_ORDER"


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    outcome: CancelOutcome


@dataclass(frozen=True, slots=True)
class FeeRates:
    maker: Decimal
    taker: Decimal
