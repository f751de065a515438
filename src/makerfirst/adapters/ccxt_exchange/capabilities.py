"""What each ccxt exchange can do and how: the adapter's per-venue capability and quirk table.

Generic code in :mod:`.exchange` asks this table *how* (which parameter carries post-only, how
to cancel, where fees come from ...) and never tests an exchange's name. Adding a venue means
adding a row here, plus a payload dialect in :mod:`.parsing` if its raw answers differ.

Only the ``coinbase`` row is exercised against a Coinbase-compatible server; every other
exchange id gets :func:`generic_capabilities`, built from ccxt's unified API alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from makerfirst.domain.orders import CancelOutcome, OrderStatus, RejectReason


class GtdStyle(StrEnum):
    """How a good-till-date order is expressed."""

    END_TIME_RFC3339 = "end_time_rfc3339"  # a param holding an RFC 3339 UTC timestamp
    NONE = "none"  # no GTD: sent good-till-cancelled; the engine's cancel is the only TTL


class CancelStyle(StrEnum):
    COINBASE_BATCH = "coinbase_batch"  # one POST for many ids, one success/failure_reason per id
    ONE_BY_ONE = "one_by_one"  # ccxt's unified cancel_order per id


class ClientIdLookup(StrEnum):
    """How an order is found from our client id."""

    LIST_RECENT_ORDERS = "list_recent_orders"  # no GET by client id: list recent orders and match
    FETCH_BY_CLIENT_ID = "fetch_by_client_id"  # unified fetch_order with a client id parameter


class OrderHistory(StrEnum):
    """How orders are listed and an order's fills are read."""

    COINBASE_HISTORICAL = "coinbase_historical"  # orders/historical/batch and /fills: cursor paging
    UNIFIED = "unified"  # fetch_open_orders / fetch_orders / fetch_order_trades, per symbol


class FeeSource(StrEnum):
    COINBASE_TRANSACTION_SUMMARY = "coinbase_transaction_summary"  # fee_tier strings of the answer
    UNIFIED_TRADING_FEES = "unified_trading_fees"  # ccxt's fetch_trading_fees numbers


class PayloadDialect(StrEnum):
    """Which shape the adapter parses: the venue's raw ``info`` strings, or ccxt's unified fields."""

    COINBASE_ADVANCED = "coinbase_advanced"
    UNIFIED = "unified"


@dataclass(frozen=True, slots=True)
class RequestBudget:
    """At most ``max_requests`` in any window of ``per_sec`` seconds."""

    max_requests: int
    per_sec: float = 1.0


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    exchange_id: str
    dialect: PayloadDialect
    # -- placing ------------------------------------------------------------------------------------
    client_id_param: str  # the create parameter that carries our client order id verbatim
    post_only_params: Mapping[str, Any]
    gtd: GtdStyle
    gtd_params: Mapping[str, Any]  # sent with a GTD order besides the end time
    gtd_end_time_param: str
    ioc_params: Mapping[str, Any]
    idempotent_client_ids: bool  # a create re-sent with a used client id returns the original order
    # -- cancelling, looking up, listing ------------------------------------------------------------
    cancel: CancelStyle
    cancel_batch_max: int
    cancel_failures: Mapping[str, CancelOutcome | None]  # venue reason → outcome; None: re-read to decide
    client_id_lookup: ClientIdLookup
    client_id_fetch_param: str  # for FETCH_BY_CLIENT_ID
    order_history: OrderHistory
    endpoints: Mapping[str, str]  # ccxt implicit methods for the raw calls of this venue's dialect
    list_page_size: int
    list_max_pages: int  # bounds a client-id search through recent orders
    lookup_window_sec: float  # how far back a client-id search looks
    open_statuses: tuple[str, ...]  # raw statuses that are not terminal (listing filter)
    status_map: Mapping[str, OrderStatus]  # raw (or unified) status → domain status
    # -- data -----------------------------------------------------------------------------------------
    fee_source: FeeSource
    reject_reasons: Mapping[str, RejectReason]  # venue failure code → domain reason
    post_only_reject_codes: frozenset[str]  # any of these in any reason field: post-only would cross
    duplicate_client_id_codes: frozenset[str]  # "already used": the order exists, look it up
    # -- transport ----------------------------------------------------------------------------------
    private_budget: RequestBudget
    public_budget: RequestBudget
    request_costs: Mapping[str, tuple[int, int]]  # call → (public, private) requests; default (0, 1)
    # Extra ccxt params for fetch_order_book: Coinbase's private book route has 3x the public budget.
    order_book_params: Mapping[str, Any]
    ccxt_config: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))


COINBASE_REJECT_REASONS: Mapping[str, RejectReason] = _frozen(
    {
        "INVALID_LIMIT_PRICE_POST_ONLY": RejectReason.POST_ONLY_WOULD_CROSS,
        "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY": RejectReason.POST_ONLY_WOULD_CROSS,
        "INSUFFICIENT_FUND": RejectReason.INSUFFICIENT_FUND,
        "PREVIEW_INSUFFICIENT_FUND": RejectReason.INSUFFICIENT_FUND,
        "INVALID_SIZE_PRECISION": RejectReason.INVALID_SIZE_PRECISION,
        "PREVIEW_INVALID_SIZE_PRECISION": RejectReason.INVALID_SIZE_PRECISION,
        "INVALID_PRICE_PRECISION": RejectReason.INVALID_PRICE_PRECISION,
        "PREVIEW_INVALID_PRICE_PRECISION": RejectReason.INVALID_PRICE_PRECISION,
        "PREVIEW_INVALID_LIMIT_PRICE_PRECISION": RejectReason.INVALID_PRICE_PRECISION,
        "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL": RejectReason.SIZE_TOO_SMALL,
        "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL": RejectReason.NOTIONAL_TOO_SMALL,
        "INVALID_PRODUCT_ID": RejectReason.INVALID_PRODUCT_ID,
        "PREVIEW_INVALID_PRODUCT_ID": RejectReason.INVALID_PRODUCT_ID,
        "ORDER_ENTRY_DISABLED": RejectReason.TRADING_DISABLED,
        "TRADING_DISABLED": RejectReason.TRADING_DISABLED,
        "PREVIEW_TRADING_DISABLED": RejectReason.TRADING_DISABLED,
        "END_TIME_IS_IN_THE_PAST": RejectReason.END_TIME_IN_PAST,
        "PREVIEW_INVALID_END_TIME": RejectReason.END_TIME_IN_PAST,
        "GTD_ORDERS_MUST_HAVE_END_TIME": RejectReason.GTD_WITHOUT_END_TIME,
    }
)

COINBASE = VenueCapabilities(
    exchange_id="coinbase",
    dialect=PayloadDialect.COINBASE_ADVANCED,
    # ccxt drops the unified ``clientOrderId`` and invents "ccxt-<uuid>"; the raw key goes through.
    client_id_param="client_order_id",
    # → ``post_only: true`` inside the limit config on the wire.
    post_only_params=_frozen({"postOnly": True}),
    gtd=GtdStyle.END_TIME_RFC3339,
    gtd_params=_frozen({"timeInForce": "GTD"}),  # → limit_limit_gtd
    gtd_end_time_param="end_time",
    ioc_params=_frozen({"timeInForce": "IOC"}),  # → sor_limit_ioc (no post_only field)
    idempotent_client_ids=True,  # Create Order §3.1: a used client_order_id returns the original
    cancel=CancelStyle.COINBASE_BATCH,  # ccxt's cancel_orders raises for the whole batch on one failure
    cancel_batch_max=100,
    cancel_failures=_frozen(
        {
            "ORDER_IS_FULLY_FILLED": CancelOutcome.ALREADY_FILLED,
            "DUPLICATE_CANCEL_REQUEST": CancelOutcome.ALREADY_DONE,
            # Older traffic answers an already-filled order with UNKNOWN_CANCEL_ORDER too: look.
            "UNKNOWN_CANCEL_ORDER": None,
        }
    ),
    client_id_lookup=ClientIdLookup.LIST_RECENT_ORDERS,  # Get Order takes the exchange id only
    client_id_fetch_param="",
    order_history=OrderHistory.COINBASE_HISTORICAL,
    endpoints=_frozen(
        {
            "batch_cancel": "v3PrivatePostBrokerageOrdersBatchCancel",
            "list_orders": "v3PrivateGetBrokerageOrdersHistoricalBatch",
            "list_fills": "v3PrivateGetBrokerageOrdersHistoricalFills",
        }
    ),
    list_page_size=250,
    list_max_pages=8,
    lookup_window_sec=24 * 3600.0,
    open_statuses=("OPEN", "PENDING", "QUEUED", "CANCEL_QUEUED"),
    status_map=_frozen(
        {
            "PENDING": OrderStatus.PENDING,
            "QUEUED": OrderStatus.QUEUED,
            "OPEN": OrderStatus.OPEN,
            "EDIT_QUEUED": OrderStatus.OPEN,  # an edit in flight on a resting order
            "CANCEL_QUEUED": OrderStatus.CANCEL_QUEUED,
            "FILLED": OrderStatus.FILLED,
            "CANCELLED": OrderStatus.CANCELLED,
            "EXPIRED": OrderStatus.EXPIRED,
            "FAILED": OrderStatus.FAILED,
            # Not terminal on purpose: the caller keeps watching (and reconciles if it never settles).
            "UNKNOWN_ORDER_STATUS": OrderStatus.PENDING,
        }
    ),
    fee_source=FeeSource.COINBASE_TRANSACTION_SUMMARY,
    reject_reasons=COINBASE_REJECT_REASONS,
    post_only_reject_codes=frozenset(
        {"INVALID_LIMIT_PRICE_POST_ONLY", "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"}
    ),
    duplicate_client_id_codes=frozenset({"DUPLICATE_CLIENT_ORDER_ID"}),
    private_budget=RequestBudget(30),  # Coinbase: ~30 private requests/s per key
    public_budget=RequestBudget(10),  # and ~10 public requests/s per IP
    # load_markets: public products (spot, then futures) and the private fee summary.
    request_costs=_frozen({"load_markets": (2, 1), "fetch_order_book": (0, 1)}),
    order_book_params=_frozen({"usePrivate": True}),  # GET /product_book: 30/s, not the public 10/s
    ccxt_config=_frozen(
        {
            "has": {"fetchCurrencies": False},  # skip the three legacy /v2 currency calls
            "options": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},  # holds-aware balances
        }
    ),
)

UNIFIED_STATUS_MAP: Mapping[str, OrderStatus] = _frozen(
    {
        "open": OrderStatus.OPEN,
        "closed": OrderStatus.FILLED,
        "canceled": OrderStatus.CANCELLED,
        "cancelled": OrderStatus.CANCELLED,
        "expired": OrderStatus.EXPIRED,
        "rejected": OrderStatus.FAILED,
    }
)

CAPABILITIES: Mapping[str, VenueCapabilities] = _frozen({COINBASE.exchange_id: COINBASE})


def generic_capabilities(exchange_id: str) -> VenueCapabilities:
    """Capabilities from ccxt's unified API only: post-only via ``postOnly``, no GTD (the engine's
    cancel enforces the TTL), IOC via ``timeInForce``, cancels one by one, lookups by client id
    through ``fetch_order``, fees from ``fetch_trading_fees``. Not exercised by the test suite."""
    return VenueCapabilities(
        exchange_id=exchange_id,
        dialect=PayloadDialect.UNIFIED,
        client_id_param="clientOrderId",
        post_only_params=_frozen({"postOnly": True}),
        gtd=GtdStyle.NONE,
        gtd_params=_frozen({}),
        gtd_end_time_param="",
        ioc_params=_frozen({"timeInForce": "IOC"}),
        idempotent_client_ids=False,
        cancel=CancelStyle.ONE_BY_ONE,
        cancel_batch_max=1,
        cancel_failures=_frozen({}),
        client_id_lookup=ClientIdLookup.FETCH_BY_CLIENT_ID,
        client_id_fetch_param="clientOrderId",
        order_history=OrderHistory.UNIFIED,
        endpoints=_frozen({}),
        list_page_size=100,
        list_max_pages=1,
        lookup_window_sec=24 * 3600.0,
        open_statuses=("open",),
        status_map=UNIFIED_STATUS_MAP,
        fee_source=FeeSource.UNIFIED_TRADING_FEES,
        reject_reasons=_frozen({}),
        post_only_reject_codes=frozenset(),
        duplicate_client_id_codes=frozenset(),
        private_budget=RequestBudget(5),
        public_budget=RequestBudget(5),
        request_costs=_frozen({"load_markets": (1, 0), "fetch_order_book": (1, 0)}),
        order_book_params=_frozen({}),
    )


def capabilities_for(exchange_id: str) -> VenueCapabilities:
    """The table's row for ``exchange_id``, else the generic unified-API row."""
    return CAPABILITIES.get(exchange_id) or generic_capabilities(exchange_id)
