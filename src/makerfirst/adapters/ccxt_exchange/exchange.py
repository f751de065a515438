"""The exchange port over ccxt: Coinbase Advanced Trade by default, other ccxt venues by name.

Request discipline (what every call goes through, in :meth:`CcxtExchange._call`):

* a client-side limiter per request class (Coinbase: 30 private / 10 public requests per second);
* a throttled request (HTTP 429 — an HTML page in production — or ccxt's ``RateLimitExceeded``
  / ``DDoSProtection``) was not processed: back off exponentially on the injected clock, capped,
  and send it again; after the last attempt raise ``RateLimitedError``;
* a read that meets a timeout, a network error or a 5xx is retried a bounded number of times;
* a *write* that meets one is never re-sent blind. A lost create is looked up by its client id
  (:meth:`CcxtExchange._recover_lost_create`); a lost cancel re-reads the order.

Secrets never leave: every message the adapter logs or raises goes through a ``Redactor``, and
an exception whose text would carry a secret is not attached as a cause.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from makerfirst.adapters.ccxt_exchange.capabilities import (
    CancelStyle,
    ClientIdLookup,
    GtdStyle,
    OrderHistory,
    VenueCapabilities,
    capabilities_for,
)
from makerfirst.adapters.ccxt_exchange.client import CcxtClient, FailureKind, JsonDict, VenueFailure, classify
from makerfirst.adapters.ccxt_exchange.credentials import ApiCredentials, Redactor
from makerfirst.adapters.ccxt_exchange.errors import VenueRefusedError, VenueUnavailableError
from makerfirst.adapters.ccxt_exchange.parsing import (
    PayloadError,
    available_balances,
    balance_sheet_of,
    cancel_outcome_of_status,
    coinbase_cancel_answers,
    coinbase_fill,
    coinbase_order_report,
    failure_codes,
    fee_rates_of,
    order_book_of,
    order_report_of,
    product_of_market,
    reject_message_of,
    reject_reason_of,
    rfc3339_of_epoch,
    unified_fill,
    volume_24h_quote_of,
)
from makerfirst.adapters.ccxt_exchange.resilience import RetryPolicy, SlidingWindowLimiter
from makerfirst.clock import Clock
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import OrderBook
from makerfirst.domain.errors import (
    AuthenticationError,
    ExchangeError,
    MakerfirstError,
    OrderNotFoundError,
    OrderStateUnknownError,
    ProductNotFoundError,
    RateLimitedError,
)
from makerfirst.domain.money import plain
from makerfirst.domain.orders import (
    CancelOutcome,
    CancelResult,
    FeeRates,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
)
from makerfirst.domain.product import Product

log = logging.getLogger(__name__)

T = TypeVar("T")
# ccxt features every venue must have for the port; the capability row decides the rest.
REQUIRED_FEATURES = ("createOrder", "cancelOrder", "fetchOrder", "fetchOrderBook", "fetchBalance")
_Send = Callable[[], Awaitable[OrderAccepted | OrderRejected]]


VOLUME_REFRESH_SEC = 300.0  # how stale a product's 24 h volume may be


class CcxtExchange:
    """:class:`makerfirst.ports.ExchangePort` over ``ccxt.async_support``.

    ``api_url`` points ccxt at another base URL (a Coinbase-compatible server on 127.0.0.1);
    ``credentials`` may be None for public data only; ``timeout_sec`` bounds each HTTP request.
    Create one per event loop and ``await close()`` it (or use ``async with``).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        credentials: ApiCredentials | None = None,
        exchange_id: str = "coinbase",
        api_url: str | None = None,
        timeout_sec: float = 10.0,
        retry: RetryPolicy | None = None,
        capabilities: VenueCapabilities | None = None,
        seed: int | None = None,
    ) -> None:
        self._caps = capabilities or capabilities_for(exchange_id)
        self._clock = clock
        self._redact = Redactor(credentials)
        self._retry = retry or RetryPolicy()
        self._rng = random.Random(seed)  # backoff jitter only
        self._api_url = api_url
        self._client = CcxtClient(
            self._caps, api_url=api_url, credentials=credentials, timeout_sec=timeout_sec
        )
        missing = [feature for feature in REQUIRED_FEATURES if not self._client.has(feature)]
        if missing:
            raise MakerfirstError(f"ccxt's {self._caps.exchange_id} lacks {', '.join(missing)}")
        self._public = SlidingWindowLimiter(clock, self._caps.public_budget)
        self._private = SlidingWindowLimiter(clock, self._caps.private_budget)
        self._markets_lock = asyncio.Lock()
        # Where we placed each client id and order: venues that list or fetch per symbol look there.
        self._placed_on: dict[str, str] = {}
        self._volumes_at = -math.inf
        self._volumes_lock = asyncio.Lock()
        self._order_symbols: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"CcxtExchange(exchange_id={self._caps.exchange_id!r}, api_url={self._api_url!r})"

    @property
    def capabilities(self) -> VenueCapabilities:
        return self._caps

    async def close(self) -> None:
        """Release the HTTP session."""
        await self._client.close()

    async def __aenter__(self) -> CcxtExchange:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- market data ----------------------------------------------------------------------------------
    async def get_product(self, product_id: str) -> Product:
        """Increments and minimums as the venue states them. Unknown id: ``ProductNotFoundError``."""
        return product_of_market(await self._market(product_id), self._caps.dialect)

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook:
        symbol = str((await self._market(product_id))["symbol"])
        params = self._caps.order_book_params
        raw = await self._call(
            "fetch_order_book", lambda: self._client.fetch_order_book(symbol, depth, params)
        )
        return order_book_of(product_id, raw, depth, self._clock.now())

    async def get_balances(self) -> dict[str, Decimal]:
        """Available (not held) balance per currency."""
        await self._ensure_markets()
        raw = await self._call("fetch_balance", self._client.fetch_balance)
        return available_balances(raw, self._caps.dialect)

    async def get_balance_sheet(self) -> dict[str, Balance]:
        """Available and on-hold balance per currency, from one ``fetch_balance``."""
        await self._ensure_markets()
        raw = await self._call("fetch_balance", self._client.fetch_balance)
        return balance_sheet_of(raw, self._caps.dialect)

    async def get_fee_rates(self) -> FeeRates:
        """Our maker/taker rates (Coinbase: the fee tier of ``transaction_summary``)."""
        await self._ensure_markets()
        raw = await self._call("fetch_trading_fees", self._client.fetch_trading_fees)
        return fee_rates_of(raw, self._caps.dialect)

    # -- orders -----------------------------------------------------------------------------------------
    async def get_volume_24h(self, product_id: str) -> Decimal:
        # The product list carries every product's 24 h volume: one request refreshes them all,
        # at most every VOLUME_REFRESH_SEC (volume moves slowly; tiers have hysteresis anyway).
        async with self._volumes_lock:  # concurrent callers share one reload
            now = self._clock.now()
            if now - self._volumes_at >= VOLUME_REFRESH_SEC:
                await self._ensure_markets(reload=True)
                self._volumes_at = now
        return volume_24h_quote_of(await self._market(product_id))

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected:
        """Create one limit order with the command's client id, size and price exactly.

        A synchronous refusal is ``OrderRejected`` (post-only that would cross:
        ``POST_ONLY_WOULD_CROSS``). A create that got no answer is looked up before anything is
        sent again; if its fate still cannot be told, ``OrderStateUnknownError``.
        """
        cid = command.client_order_id
        try:
            market = await self._market(command.product_id)
        except ProductNotFoundError:
            return OrderRejected(cid, RejectReason.INVALID_PRODUCT_ID, command.product_id)
        symbol = str(market["symbol"])
        size, price = plain(command.size), plain(command.limit_price)
        # ccxt formats both to the market's precision; if that would change them, the venue would
        # see another order than the one decided (a post-only sell rounded down could cross).
        if not _same_decimal(self._client.amount_to_precision(symbol, size), command.size):
            return OrderRejected(cid, RejectReason.INVALID_SIZE_PRECISION, f"{size} is not on the lot grid")
        if not _same_decimal(self._client.price_to_precision(symbol, price), command.limit_price):
            return OrderRejected(
                cid, RejectReason.INVALID_PRICE_PRECISION, f"{price} is not on the tick grid"
            )
        params = self._order_params(command)
        if isinstance(params, OrderRejected):
            return params
        self._placed_on[cid] = command.product_id
        # A GTD order lives this long from its send: a create sent again after a throttle's
        # backoff gets a later end time, never one already in the past.
        lifetime = None if command.end_time is None else command.end_time - self._clock.now()

        async def send() -> OrderAccepted | OrderRejected:
            return await self._send_create(command, symbol, size, price, params, lifetime=lifetime)

        try:
            return await send()
        except VenueUnavailableError as lost:
            return await self._recover_lost_create(command, send, lost)

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        """One result per id, in order. ``ACCEPTED`` does not mean terminal: confirm with ``get_order``.

        A refusal is decided by reading the order when the venue's reason is ambiguous; a cancel
        that got no answer re-reads the order too (filled meanwhile → ``ALREADY_FILLED``) and is
        sent again only if the order is still live.
        """
        outcomes = await self._send_cancels(order_ids, settle_silence=True)
        return [CancelResult(order_id, outcomes[order_id]) for order_id in order_ids]

    async def get_order(self, order_id: str) -> OrderReport:
        """The order's state now; an id the venue does not know raises ``OrderNotFoundError``."""
        await self._ensure_markets()
        symbol = self._symbol_hint(order_id)
        raw = await self._call("fetch_order", lambda: self._client.fetch_order(order_id, symbol, {}))
        return order_report_of(raw, self._caps, self._market_id)

    async def list_fills(self, order_id: str) -> list[Fill]:
        """The order's executions, fee in quote and liquidity as the venue reports them."""
        await self._ensure_markets()
        if self._caps.order_history is OrderHistory.COINBASE_HISTORICAL:
            pages = await self._coinbase_pages("list_fills", {"order_ids": [order_id]}, "fills")
            return [coinbase_fill(raw) for raw in pages if str(raw.get("order_id")) == order_id]
        report = await self.get_order(order_id)
        symbol = self._symbol_of(report.product_id)
        trades = await self._call(
            "fetch_order_trades", lambda: self._client.fetch_order_trades(order_id, symbol)
        )
        return [unified_fill(t, self._market_id) for t in trades]

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        """Orders not yet terminal (PENDING, OPEN, QUEUED, CANCEL_QUEUED)."""
        await self._ensure_markets()
        if self._caps.order_history is OrderHistory.COINBASE_HISTORICAL:
            query: dict[str, Any] = {"order_status": list(self._caps.open_statuses)}
            if product_id is not None:
                query["product_ids"] = [product_id]
            pages = await self._coinbase_pages("list_orders", query, "orders")
            reports = [coinbase_order_report(raw, self._caps.status_map) for raw in pages]
        else:
            symbol = None if product_id is None else self._symbol_of(product_id)
            raw_orders = await self._call("fetch_open_orders", lambda: self._client.fetch_open_orders(symbol))
            reports = [order_report_of(raw, self._caps, self._market_id) for raw in raw_orders]
        return [r for r in reports if not r.status.is_terminal and product_id in (None, r.product_id)]

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        """Our order with this client id, or None if the venue never created it.

        Coinbase cannot GET an order by client id: this lists the orders created within
        ``lookup_window_sec`` (newest first, a bounded number of pages) and matches the id.
        """
        await self._ensure_markets()
        if self._caps.client_id_lookup is ClientIdLookup.FETCH_BY_CLIENT_ID:
            return await self._fetch_by_client_id(client_order_id)
        since = self._clock.now() - self._caps.lookup_window_sec
        if self._caps.order_history is OrderHistory.COINBASE_HISTORICAL:
            query = {"start_date": rfc3339_of_epoch(since)}
            for raw in await self._coinbase_pages("list_orders", query, "orders"):
                if str(raw.get("client_order_id")) == client_order_id:
                    return coinbase_order_report(raw, self._caps.status_map)
            return None
        product_id = self._placed_on.get(client_order_id)
        if product_id is None:
            return None  # listing is per symbol here, and we never placed this id
        symbol = self._symbol_of(product_id)
        since_ms = int(since * 1000)
        raw_orders = await self._call("fetch_orders", lambda: self._client.fetch_orders(symbol, since_ms))
        for raw in raw_orders:
            if str(raw.get("clientOrderId")) == client_order_id:
                return order_report_of(raw, self._caps, self._market_id)
        return None

    # -- placing ------------------------------------------------------------------------------------------
    def _order_params(self, command: PlaceOrder) -> dict[str, Any] | OrderRejected:
        caps = self._caps
        params: dict[str, Any] = {caps.client_id_param: command.client_order_id}
        if command.order_type is OrderType.LIMIT_IOC:
            params.update(caps.ioc_params)
            return params
        params.update(caps.post_only_params)
        if caps.gtd is GtdStyle.END_TIME_RFC3339:
            if command.end_time is None:
                return OrderRejected(command.client_order_id, RejectReason.GTD_WITHOUT_END_TIME)
            params.update(caps.gtd_params)
            params[caps.gtd_end_time_param] = rfc3339_of_epoch(command.end_time)
        return params

    async def _send_create(
        self,
        command: PlaceOrder,
        symbol: str,
        size: str,
        price: str,
        params: dict[str, Any],
        *,
        lifetime: float | None,
    ) -> OrderAccepted | OrderRejected:
        """One create (re-sent only after a throttle, which the venue did not process); a GTD
        end time is stamped at each send, ``lifetime`` seconds from then."""
        cid = command.client_order_id
        side = command.side.value.lower()
        try:
            created = await self._call(
                "create_order",
                lambda: self._client.create_limit_order(
                    symbol, side, size, price, self._with_end_time(params, lifetime)
                ),
                retry_transient=False,
            )
        except VenueRefusedError as refused:
            if any(code in self._caps.duplicate_client_id_codes for code in refused.codes):
                found = await self.find_order_by_client_id(cid)
                if found is not None:
                    return OrderAccepted(found.order_id, cid)
            reason = reject_reason_of(refused.codes, self._caps)
            log.info(
                "Order %s on %s rejected: %s",
                cid,
                command.product_id,
                reason.value,
                extra={"event": "order_rejected", "product_id": command.product_id, "reason": reason.value},
            )
            return OrderRejected(cid, reason, refused.venue_message or str(refused))
        order_id = str(created.get("id") or "")
        if not order_id:
            raise PayloadError(f"create for {cid} answered without an order id")
        self._order_symbols[order_id] = symbol
        return OrderAccepted(order_id, cid)

    def _with_end_time(self, params: dict[str, Any], lifetime: float | None) -> dict[str, Any]:
        if lifetime is None or self._caps.gtd_end_time_param not in params:
            return params
        return {**params, self._caps.gtd_end_time_param: rfc3339_of_epoch(self._clock.now() + lifetime)}

    async def _recover_lost_create(
        self, command: PlaceOrder, send: _Send, lost: VenueUnavailableError
    ) -> OrderAccepted | OrderRejected:
        """The create was sent and no answer came back: it may or may not exist. Look first."""
        cid = command.client_order_id
        log.warning(
            "Create %s on %s got no answer (%s); looking it up by client id before anything else",
            cid,
            command.product_id,
            lost,
            extra={"event": "create_unanswered", "client_order_id": cid, "product_id": command.product_id},
        )
        found = await self._lookup_after_lost_create(cid)
        if found is not None:
            return OrderAccepted(found.order_id, cid)
        if not self._caps.idempotent_client_ids:
            raise OrderStateUnknownError(
                f"create {cid} got no answer and the order is not among recent orders yet;"
                " reconcile by client id before placing again"
            ) from lost
        # Coinbase answers a create whose client_order_id it has already seen with the order that id
        # created, and creates nothing (Create Order, idempotency). Having looked, sending the very
        # same create again is therefore not blind: it places the order now if the lost request never
        # arrived, or hands back the one it did place if the listing has not shown it yet.
        log.info(
            "Create %s not found among recent orders; re-sending it with the same client id",
            cid,
            extra={"event": "create_resent", "client_order_id": cid},
        )
        try:
            return await send()
        except VenueUnavailableError as lost_again:
            found = await self._lookup_after_lost_create(cid)
            if found is not None:
                return OrderAccepted(found.order_id, cid)
            raise OrderStateUnknownError(
                f"create {cid} got no answer twice and the order cannot be found;"
                " reconcile by client id before placing again"
            ) from lost_again

    async def _lookup_after_lost_create(self, client_order_id: str) -> OrderReport | None:
        try:
            return await self.find_order_by_client_id(client_order_id)
        except (AuthenticationError, OrderStateUnknownError):
            raise
        except ExchangeError as failed:
            raise OrderStateUnknownError(
                f"create {client_order_id} got no answer and the lookup by client id failed;"
                " reconcile before placing again"
            ) from failed

    async def _fetch_by_client_id(self, client_order_id: str) -> OrderReport | None:
        product_id = self._placed_on.get(client_order_id)
        symbol = None if product_id is None else self._symbol_of(product_id)
        params = {self._caps.client_id_fetch_param: client_order_id}
        try:
            raw = await self._call("fetch_order", lambda: self._client.fetch_order("", symbol, params))
        except OrderNotFoundError:
            return None
        return order_report_of(raw, self._caps, self._market_id)

    # -- cancelling ---------------------------------------------------------------------------------------
    async def _send_cancels(self, order_ids: list[str], *, settle_silence: bool) -> dict[str, CancelOutcome]:
        """The venue's cancel requests for ``order_ids``: batched where it can. A cancel that gets no
        answer is settled by reading the order (``settle_silence``), or raises to the caller that
        is already settling one."""
        outcomes: dict[str, CancelOutcome] = {}
        if self._caps.cancel is CancelStyle.COINBASE_BATCH:
            step = max(1, self._caps.cancel_batch_max)
            for start in range(0, len(order_ids), step):
                outcomes.update(await self._cancel_batch(order_ids[start : start + step], settle_silence))
        else:
            for order_id in order_ids:
                outcomes[order_id] = await self._cancel_one(order_id, settle_silence)
        return outcomes

    async def _cancel_batch(self, order_ids: list[str], settle_silence: bool) -> dict[str, CancelOutcome]:
        endpoint = self._caps.endpoints["batch_cancel"]
        try:
            raw = await self._call(
                "cancel_orders",
                lambda: self._client.raw(endpoint, {"order_ids": order_ids}),
                retry_transient=False,
            )
        except VenueUnavailableError as lost:
            if not settle_silence:
                raise
            return {order_id: await self._settle_unanswered_cancel(order_id, lost) for order_id in order_ids}
        answers = coinbase_cancel_answers(raw, order_ids)
        return {
            order_id: await self._outcome_of_answer(order_id, *answers.get(order_id, (False, "NO_RESULT")))
            for order_id in order_ids
        }

    async def _outcome_of_answer(self, order_id: str, success: bool, reason: str) -> CancelOutcome:
        if success:
            return CancelOutcome.ACCEPTED
        mapped = self._caps.cancel_failures.get(reason)
        return mapped if mapped is not None else await self._decide_refused_cancel(order_id, reason)

    async def _cancel_one(self, order_id: str, settle_silence: bool) -> CancelOutcome:
        symbol = self._symbol_hint(order_id)
        try:
            await self._call(
                "cancel_order", lambda: self._client.cancel_order(order_id, symbol), retry_transient=False
            )
        except VenueUnavailableError as lost:
            if not settle_silence:
                raise
            return await self._settle_unanswered_cancel(order_id, lost)
        except (OrderNotFoundError, VenueRefusedError) as refused:
            return await self._decide_refused_cancel(order_id, str(refused))
        return CancelOutcome.ACCEPTED

    async def _decide_refused_cancel(self, order_id: str, reason: str) -> CancelOutcome:
        """The venue refused the cancel without saying why clearly: the order's state decides."""
        try:
            report = await self.get_order(order_id)
        except OrderNotFoundError:
            return CancelOutcome.UNKNOWN_ORDER
        outcome = cancel_outcome_of_status(report.status)
        if outcome is None:
            raise VenueRefusedError(f"cancel of live order {order_id} ({report.status}) refused: {reason}")
        return outcome

    async def _settle_unanswered_cancel(self, order_id: str, lost: VenueUnavailableError) -> CancelOutcome:
        """A cancel got no answer. Read the order: it may have filled or been cancelled meanwhile."""
        log.warning(
            "Cancel of %s got no answer (%s); re-reading the order",
            order_id,
            lost,
            extra={"event": "cancel_unanswered", "order_id": order_id},
        )
        try:
            report = await self.get_order(order_id)
        except OrderNotFoundError:
            return CancelOutcome.UNKNOWN_ORDER
        except ExchangeError as failed:
            raise OrderStateUnknownError(
                f"cancel of {order_id} got no answer and the order cannot be read; reconcile"
            ) from failed
        if report.status in (OrderStatus.CANCELLED, OrderStatus.CANCEL_QUEUED):
            # Our cancel landed (or something else ended the order): nothing left to do but confirm.
            return CancelOutcome.ACCEPTED
        outcome = cancel_outcome_of_status(report.status)
        if outcome is not None:
            return outcome
        # Still live: the cancel did not land. Sending it again cannot hurt an order we want gone,
        # but a second silence leaves its state to reconciliation.
        log.info(
            "Order %s still %s; cancelling it again",
            order_id,
            report.status,
            extra={"event": "cancel_resent"},
        )
        try:
            return (await self._send_cancels([order_id], settle_silence=False))[order_id]
        except VenueUnavailableError as lost_again:
            raise OrderStateUnknownError(
                f"cancel of {order_id} got no answer twice; reconcile"
            ) from lost_again

    # -- markets and symbols --------------------------------------------------------------------------
    async def _ensure_markets(self, *, reload: bool = False) -> None:
        async with self._markets_lock:
            if reload or not self._client.markets_loaded:
                await self._call("load_markets", lambda: self._client.load_markets(reload=reload))

    async def _market(self, product_id: str) -> JsonDict:
        await self._ensure_markets()
        market = self._client.market_by_id(product_id)
        if market is None:
            await self._ensure_markets(reload=True)  # a product listed since we loaded
            market = self._client.market_by_id(product_id)
        if market is None:
            raise ProductNotFoundError(f"unknown product {product_id!r} on {self._caps.exchange_id}")
        return market

    def _symbol_of(self, product_id: str) -> str:
        market = self._client.market_by_id(product_id)
        if market is None:
            raise ProductNotFoundError(f"unknown product {product_id!r} on {self._caps.exchange_id}")
        return str(market["symbol"])

    def _symbol_hint(self, order_id: str) -> str | None:
        """The symbol of an order we placed, for venues whose order routes need one (Coinbase's do not)."""
        return self._order_symbols.get(order_id)

    def _market_id(self, symbol: str) -> str:
        return self._client.market_id(symbol)

    # -- requests -----------------------------------------------------------------------------------------
    async def _coinbase_pages(
        self, endpoint_key: str, query: dict[str, Any], items_key: str
    ) -> list[JsonDict]:
        """Every item of a cursor-paged Coinbase list, at most ``list_max_pages`` pages."""
        endpoint = self._caps.endpoints[endpoint_key]
        items: list[JsonDict] = []
        cursor = ""
        for _ in range(self._caps.list_max_pages):
            page_query = {**query, "limit": self._caps.list_page_size}
            if cursor:
                page_query["cursor"] = cursor
            page = await self._call(endpoint_key, partial(self._client.raw, endpoint, page_query))
            items += [item for item in page.get(items_key) or [] if isinstance(item, dict)]
            next_cursor = str(page.get("cursor") or "")
            has_next = page.get("has_next")
            if not next_cursor or next_cursor == cursor or has_next is False:
                break
            cursor = next_cursor
        return items

    async def _call(self, op: str, send: Callable[[], Awaitable[T]], *, retry_transient: bool = True) -> T:
        """Send one request through the limiter, retrying throttles (and, for reads, transient
        failures) with capped exponential backoff; venue failures leave as domain errors."""
        public_cost, private_cost = self._caps.request_costs.get(op, (0, 1))
        throttled = unavailable = 0
        while True:
            if public_cost:
                await self._public.acquire(public_cost)
            if private_cost:
                await self._private.acquire(private_cost)
            try:
                return await send()
            except Exception as exc:
                failure = classify(exc, self._redact)
                if failure is None:
                    raise
                if failure.kind is FailureKind.RATE_LIMITED:
                    throttled += 1
                    if throttled < self._retry.rate_limit_attempts:
                        await self._back_off(op, failure, throttled)
                        continue
                elif failure.kind is FailureKind.TRANSIENT and retry_transient:
                    unavailable += 1
                    if unavailable < self._retry.transient_attempts:
                        await self._back_off(op, failure, unavailable)
                        continue
                raise self._domain_error(op, failure) from self._safe_cause(exc)

    async def _back_off(self, op: str, failure: VenueFailure, attempt: int) -> None:
        delay = self._retry.delay(attempt, self._rng)
        log.warning(
            "%s: %s (%s); retrying in %.2fs",
            op,
            "rate limited" if failure.kind is FailureKind.RATE_LIMITED else "no answer",
            failure.message[:200],
            delay,
            extra={"event": "request_retry", "op": op, "kind": failure.kind.value, "attempt": attempt},
        )
        await self._clock.sleep_until(self._clock.now() + delay)

    def _domain_error(self, op: str, failure: VenueFailure) -> ExchangeError:
        message = f"{self._caps.exchange_id} {op}: {failure.message}"
        if failure.kind is FailureKind.RATE_LIMITED:
            return RateLimitedError(message, retry_after_sec=self._retry.max_delay_sec)
        if failure.kind is FailureKind.AUTHENTICATION:
            return AuthenticationError(message)
        if failure.kind is FailureKind.NOT_FOUND:
            return OrderNotFoundError(message)
        if failure.kind is FailureKind.TRANSIENT:
            return VenueUnavailableError(message)
        return VenueRefusedError(
            message, failure_codes(failure.body), reject_message_of(failure.body, fallback="")
        )

    def _safe_cause(self, exc: BaseException) -> BaseException | None:
        """Keep the cause unless its text would carry a secret."""
        text = str(exc)
        return exc if self._redact(text) == text else None


def _same_decimal(formatted: str | None, wanted: Decimal) -> bool:
    if formatted is None:
        return False
    try:
        return Decimal(formatted) == wanted
    except InvalidOperation:
        return False
