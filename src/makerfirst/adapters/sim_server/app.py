"""A Coinbase Advanced-compatible REST API (coinbase-advanced-api.md §3) over one simulated exchange.

Every API request goes through the same gate, in this order:

1. the fault plan's added latency;
2. private routes: the JWT check (401 ``Unauthorized\\n`` as plain text);
3. the rate limit: a token bucket per key (private) or per client address (public) → 429 HTML;
4. injected faults: 429 HTML, then 503 (HTML or JSON);
5. the route itself; ``create_timeout`` and ``cancel_5xx_after_fill`` act inside their routes.

Routing is on exact method + path: any other request, including the wrong cancel endpoints
people use (``POST /orders/cancel``, ``DELETE /orders/{id}``, ``DELETE /orders/batch_cancel``,
``GET /orders/{id}``), answers 404 with Coinbase's ``NOT_FOUND`` JSON.

The exchange lives on the server's event loop. Each request advances it to the clock's now
(its own port methods do, and so does :meth:`SimBackend.session`); a background tick also
advances it every second so that an idle server never has hours of market to catch up on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.adapters.sim_server import previews, taker_configs, wire
from makerfirst.adapters.sim_server.audit import AuditFile, fill_record, order_record
from makerfirst.adapters.sim_server.auth import AuthError, JwtVerifier, PublicKey
from makerfirst.adapters.sim_server.faults import ErrorBody, FaultInjector, FaultKind, FaultPlan
from makerfirst.adapters.sim_server.market_routes import MarketRoutes
from makerfirst.adapters.sim_server.ratelimit import RateLimiter, RateLimits
from makerfirst.adapters.sim_server.ws import FeedFaults, FeedHub
from makerfirst.clock import Clock
from makerfirst.domain.errors import OrderNotFoundError
from makerfirst.domain.money import ZERO, plain
from makerfirst.domain.orders import (
    Fill,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
)
from makerfirst.domain.product import Product

log = logging.getLogger("makerfirst.sim_server")

PREFIX = "/api/v3/brokerage"
TICK_SEC = 1.0
MAX_CANCEL_BATCH = 100
FULL_DEPTH = 1_000

TOO_MANY_REQUESTS_HTML = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
UNAVAILABLE_HTML = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class Access(Enum):
    PUBLIC = "public"  # no auth, rate-limited per client address
    PRIVATE = "private"  # JWT, rate-limited per key
    SIM = "sim"  # the simulator's own routes (/audit): no auth, no limits, no faults


class ApiError(Exception):
    """Answer the request with ``status`` and Coinbase's error JSON."""

    def __init__(self, status: int, body: wire.Json) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body

    @classmethod
    def invalid(cls, message: str) -> ApiError:
        return cls(400, wire.error("INVALID_ARGUMENT", message))


Handler = Callable[[Request], Awaitable[wire.Json | Response]]
ConnectionKiller = Callable[[str, int], None]  # closes the server's connection to this client address


class SimBackend:
    """The state behind the routes: the exchange, the registered keys, limits, faults, the audit.

    ``exchange`` must be built with ``request_latency_sec=0``: its port methods then never suspend,
    which is what lets :meth:`session` hold a thread lock across them (latency is the fault
    plan's job here). Code on another thread (tests) touches the exchange only inside
    :meth:`session`.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        clock: Clock,
        products: list[Product],
        keys: dict[str, PublicKey],
        *,
        faults: FaultPlan | None = None,
        limits: RateLimits | None = None,
        audit_file: Path | None = None,
    ) -> None:
        if exchange.settings.request_latency_sec != 0:
            raise ValueError("the sim server needs an exchange with request_latency_sec=0")
        self.exchange = exchange
        self.clock = clock
        self.products = {p.product_id: p for p in products}
        self.faults = FaultInjector(faults or FaultPlan())
        self._verifier = JwtVerifier(keys, clock)
        self._limiter = RateLimiter(limits or RateLimits(), clock)
        self._audit_file = AuditFile(audit_file) if audit_file is not None else None
        self._configurations: dict[str, wire.Json] = {}  # order id → the order_configuration sent
        # Reentrant so that the loop thread can never block on itself; the test thread waits.
        self._lock = threading.RLock()
        self._stopping = asyncio.Event()
        self._kill_connection: ConnectionKiller | None = None
        self._started = clock.now()

    # -- shared state -------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[SimulatedExchange]:
        """Exclusive use of the exchange, advanced to now; the audit file catches up on exit."""
        with self._lock:
            self.exchange.advance()
            try:
                yield self.exchange
            finally:
                if self._audit_file is not None:
                    self._audit_file.record(*self._audit_records())

    def audit(self) -> wire.Json:
        """``{"orders": [...], "fills": [...]}``: every order and fill the exchange knows."""
        with self.session():
            orders, fills = self._audit_records()
        return {"orders": orders, "fills": fills}

    @property
    def verifier(self) -> JwtVerifier:
        """The key check, shared with the WebSocket feed's ``user`` channel."""
        return self._verifier

    def set_faults(self, plan: FaultPlan) -> None:
        """Switch to ``plan`` (with fresh counts) from the next request on."""
        self.faults = FaultInjector(plan)

    def set_connection_killer(self, kill: ConnectionKiller) -> None:
        """How to drop a client's connection: only the HTTP server serving the app can."""
        self._kill_connection = kill

    def stop(self) -> None:
        """Release requests held by faults (called on the server's loop as it shuts down)."""
        self._stopping.set()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` on the clock, or less if the server is shutting down."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def tick(self) -> None:
        """Advance the market every second until cancelled (owned by the app's lifespan)."""
        while True:
            await self.clock.sleep_until(self.clock.now() + TICK_SEC)
            with self.session():
                pass

    def _audit_records(self) -> tuple[list[wire.Json], list[wire.Json]]:
        orders = [order_record(r, self._configuration(r)) for r in self.exchange.all_orders()]
        return orders, [fill_record(f) for f in self.exchange.all_fills()]

    def _configuration(self, report: OrderReport) -> wire.Json:
        known = self._configurations.get(report.order_id)
        return known if known is not None else wire.configuration_of(report)

    def _order_json(self, report: OrderReport, fills: list[Fill]) -> wire.Json:
        taker = self.exchange.settings.fees.taker
        return wire.order(report, self._configuration(report), fills, taker)

    def _product(self, product_id: str | None) -> Product:
        product = self.products.get(product_id or "")
        if product is None:
            raise ApiError.invalid("ProductID is invalid")
        return product

    # -- the gate -------------------------------------------------------------------------------
    def endpoint(self, access: Access, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return await self._serve(request, access, handler)

        return serve

    async def _serve(self, request: Request, access: Access, handler: Handler) -> Response:
        if access is not Access.SIM:
            if self.faults.plan.latency_sec > 0:
                await self.clock.sleep_until(self.clock.now() + self.faults.plan.latency_sec)
            if access is Access.PRIVATE:
                try:
                    caller = self._verifier.verify(
                        request.headers.get("authorization"), request.method, request.url.path
                    )
                except AuthError as refused:
                    log.warning("401 %s %s: %s", request.method, request.url.path, refused)
                    return PlainTextResponse("Unauthorized\n", status_code=401)
            else:
                caller = request.client.host if request.client else "?"
            if not self._limiter.allow(private=access is Access.PRIVATE, caller=caller):
                return _too_many_requests()
            route = _route_key(request)
            if self.faults.fires(FaultKind.RATE_429, route):
                log.info("fault rate429: %s %s", request.method, request.url.path)
                return _too_many_requests()
            if self.faults.fires(FaultKind.ERROR_5XX, route):
                log.info("fault error5xx: %s %s", request.method, request.url.path)
                return self._unavailable()
            if self.faults.fires(FaultKind.STALL, route):
                log.info("fault stall: %s %s held, never served", request.method, request.url.path)
                await self.pause(self.faults.plan.hang_sec)
                await self._drop_connection(request)
                return Response(status_code=504)  # never sent: the connection is gone
        try:
            answer = await handler(request)
        except ApiError as error:
            return JSONResponse(error.body, status_code=error.status)
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    def _unavailable(self) -> Response:
        if self.faults.plan.error_5xx_body is ErrorBody.JSON:
            return JSONResponse(wire.error("INTERNAL", "simulated server error"), status_code=503)
        return HTMLResponse(UNAVAILABLE_HTML, status_code=503)

    # -- orders ----------------------------------------------------------------------------------
    async def create_order(self, request: Request) -> wire.Json | Response:
        body = await _json_body(request)
        client_order_id = body.get("client_order_id")
        if not isinstance(client_order_id, str) or not client_order_id:
            raise ApiError.invalid("client_order_id is required")
        configuration = body.get("order_configuration")
        with self.session() as exchange:
            # A reused client id answers with the original order and creates nothing (§3.1).
            known = await exchange.find_order_by_client_id(client_order_id)
            if known is not None:
                return wire.create_success(known, self._configuration(known))
            command = self._parse_create(body, client_order_id)
            if isinstance(command, wire.CreateFailure):
                return wire.create_failure(command, configuration)
            outcome = await exchange.place_order(command)
            if isinstance(outcome, OrderRejected):
                return wire.create_failure(wire.rejection(outcome.reason), configuration)
            assert isinstance(configuration, dict)  # _parse_create accepted it
            self._configurations[outcome.order_id] = configuration
            answer = wire.create_success(await exchange.get_order(outcome.order_id), configuration)
        if self.faults.fires(FaultKind.CREATE_TIMEOUT):
            log.info("fault create_timeout: order %s created; holding the answer", outcome.order_id)
            await self.pause(self.faults.plan.hang_sec)
            await self._drop_connection(request)
            return Response(status_code=504)  # never sent: the connection is gone
        return answer

    async def _drop_connection(self, request: Request) -> None:
        """Close the connection without an answer, and wait until the server has noticed."""
        if self._kill_connection is None or request.client is None:
            raise RuntimeError("create_timeout needs the app served by SimServer")
        self._kill_connection(request.client.host, request.client.port)
        # The server answers "http.disconnect" once it has seen the connection go, and from then
        # on ignores whatever the app sends (a client that already gave up gets here at once).
        await request.receive()

    def _parse_create(self, body: wire.Json, client_order_id: str) -> PlaceOrder | wire.CreateFailure:
        product_id = body.get("product_id")
        product = self.products.get(product_id) if isinstance(product_id, str) else None
        if product is None:
            return wire.rejection(RejectReason.INVALID_PRODUCT_ID)
        side = body.get("side")
        if side not in ("BUY", "SELL"):
            return wire.INVALID_SIDE
        configuration = body.get("order_configuration")
        if not isinstance(configuration, dict) or len(configuration) != 1:
            return wire.unsupported("order_configuration needs exactly one order type")
        ((kind, fields),) = configuration.items()
        if kind not in wire.TIME_IN_FORCE or not isinstance(fields, dict):
            return wire.unsupported(f"{kind} is not supported by the simulator")
        if kind in (wire.MARKET_IOC, wire.FOK):
            book = self.exchange.book_now(product.product_id, FULL_DEPTH)  # the caller holds the session
            try:
                return taker_configs.translate(
                    kind,
                    fields,
                    client_order_id=client_order_id,
                    product=product,
                    side=Side(side),
                    book=book,
                    taker_fee=self.exchange.settings.fees.taker,
                )
            except ValueError as bad:
                raise ApiError.invalid(str(bad)) from None
        size, price = _decimal(fields, "base_size"), _decimal(fields, "limit_price")
        if product.base_max_size is not None and size > product.base_max_size:
            return wire.SIZE_TOO_LARGE
        if kind == wire.IOC:
            return PlaceOrder(
                client_order_id, product.product_id, Side(side), OrderType.LIMIT_IOC, size, price
            )
        if fields.get("post_only") not in (True, "true", "True"):
            return wire.unsupported(
                "the simulator rests post-only limit orders only; take with sor_limit_ioc"
            )
        end_time = math.inf  # GTC: a post-only order that never expires
        if kind == wire.GTD:
            end_text = fields.get("end_time")
            if not end_text:
                return wire.rejection(RejectReason.GTD_WITHOUT_END_TIME)
            try:
                end_time = wire.parse_rfc3339(str(end_text))
            except ValueError:
                raise ApiError.invalid(f"end_time is not an RFC 3339 time: {end_text!r}") from None
        return PlaceOrder(
            client_order_id, product.product_id, Side(side), OrderType.POST_ONLY_GTD, size, price, end_time
        )

    async def preview_order(self, request: Request) -> wire.Json:
        """``POST /orders/preview``: what a create would do now; nothing is created (previews.py)."""
        body = await _json_body(request)
        product_id = body.get("product_id")
        product = self.products.get(product_id) if isinstance(product_id, str) else None
        with self.session() as exchange:
            command = self._parse_create(body, "preview")
            book = exchange.book_now(product.product_id, FULL_DEPTH) if product else None
            available = await exchange.get_balances()
            return previews.preview(command, product, book, exchange.settings.fees, available)

    async def edit_order(self, request: Request) -> wire.Json:
        """``POST /orders/edit``: a resting GTC limit order's new ``price`` and ``size``."""
        body = await _json_body(request)
        order_id = body.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise ApiError.invalid("order_id is required")
        price, size = _decimal(body, "price"), _decimal(body, "size")
        with self.session() as exchange:
            refusal = await exchange.edit_order(order_id, price, size)
            if refusal is None:
                fields = {"base_size": plain(size), "limit_price": plain(price), "post_only": True}
                self._configurations[order_id] = {wire.GTC: fields}
        return previews.edit_answer(refusal)

    async def cancel_orders(self, request: Request) -> wire.Json | Response:
        body = await _json_body(request)
        order_ids = body.get("order_ids")
        if not isinstance(order_ids, list) or not order_ids or not all(isinstance(i, str) for i in order_ids):
            raise ApiError.invalid("order_ids must be a non-empty list of order id strings")
        if len(order_ids) > MAX_CANCEL_BATCH:
            raise ApiError.invalid(f"at most {MAX_CANCEL_BATCH} order ids per batch")
        with self.session() as exchange:
            statuses = {r.order_id: r.status for r in exchange.all_orders()}
            names_a_fill = any(statuses.get(i) is OrderStatus.FILLED for i in order_ids)
            if names_a_fill and self.faults.fires(FaultKind.CANCEL_5XX_AFTER_FILL):
                log.info("fault cancel_5xx_after_fill: %s", ", ".join(order_ids))
                return self._unavailable()
            results = await exchange.cancel_orders(order_ids)
        return {"results": [wire.cancel_result(r) for r in results]}

    async def get_order(self, request: Request) -> wire.Json:
        order_id = request.path_params["order_id"]
        with self.session() as exchange:
            try:
                report = await exchange.get_order(order_id)
            except OrderNotFoundError:
                raise ApiError(404, wire.ORDER_NOT_FOUND) from None
            fills = await exchange.list_fills(order_id)
        return {"order": self._order_json(report, fills)}

    async def list_orders(self, request: Request) -> wire.Json:
        """Newest first; filters are ANDed; ``cursor`` is an offset into the filtered list."""
        order_ids = set(_many(request, "order_ids", "order_id"))
        product_ids = set(_many(request, "product_ids", "product_id"))
        statuses = set(_many(request, "order_status"))
        side = request.query_params.get("order_side")
        start, end = _time_param(request, "start_date"), _time_param(request, "end_date")
        with self.session() as exchange:
            reports, fills = exchange.all_orders(), exchange.all_fills()
        chosen = [
            r
            for r in reversed(reports)
            if (not order_ids or r.order_id in order_ids)
            and (not product_ids or r.product_id in product_ids)
            and (not statuses or r.status.value in statuses)
            and (side is None or r.side.value == side)
            and (start is None or r.created_time >= start)
            and (end is None or r.created_time < end)
        ]
        page, cursor = _page(request, chosen, default_limit=100, max_limit=1_000)
        by_order = _fills_by_order(fills)
        return {
            "orders": [self._order_json(r, by_order.get(r.order_id, [])) for r in page],
            "sequence": "0",
            "has_next": bool(cursor),
            "cursor": cursor,
        }

    async def list_fills(self, request: Request) -> wire.Json | Response:
        """Newest first; filter by order, trade, product and sequence time; offset cursor."""
        order_ids = set(_many(request, "order_ids", "order_id"))
        trade_ids = set(_many(request, "trade_ids", "trade_id"))
        product_ids = set(_many(request, "product_ids", "product_id"))
        start = _time_param(request, "start_sequence_timestamp")
        end = _time_param(request, "end_sequence_timestamp")
        with self.session() as exchange:
            fills = exchange.all_fills()
        chosen = [
            f
            for f in reversed(fills)
            if (not order_ids or f.order_id in order_ids)
            and (not trade_ids or f.trade_id in trade_ids)
            and (not product_ids or f.product_id in product_ids)
            and (start is None or f.time >= start)
            and (end is None or f.time < end)
        ]
        page, cursor = _page(request, chosen, default_limit=100, max_limit=1_000)
        return {"fills": [wire.fill(f) for f in page], "cursor": cursor}

    # -- accounts ----------------------------------------------------------------------------------
    async def _balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Currency → (available, hold) for every currency of every product and every balance."""
        with self.session() as exchange:
            available = await exchange.get_balances()
            held = exchange.held()
        currencies = set(available) | set(held)
        currencies |= {c for p in self.products.values() for c in (p.base_currency, p.quote_currency)}
        return {c: (available.get(c, ZERO), held.get(c, ZERO)) for c in sorted(currencies)}

    async def list_accounts(self, request: Request) -> wire.Json:
        accounts = [
            wire.account(c, free, hold, self._started) for c, (free, hold) in (await self._balances()).items()
        ]
        page, cursor = _page(request, accounts, default_limit=49, max_limit=250)
        return {"accounts": page, "has_next": bool(cursor), "cursor": cursor, "size": len(page)}

    async def get_account(self, request: Request) -> wire.Json:
        wanted = request.path_params["account_uuid"]
        for c, (free, hold) in (await self._balances()).items():
            if wire.account_id(c) == wanted:
                return {"account": wire.account(c, free, hold, self._started)}
        raise ApiError(404, wire.error("NOT_FOUND", "account not found"))

    async def v2_accounts(self, request: Request) -> wire.Json:
        rows = [
            wire.v2_account(c, free + hold, self._started)
            for c, (free, hold) in (await self._balances()).items()
        ]
        pagination = {
            "ending_before": None,
            "starting_after": None,
            "limit": len(rows),
            "order": "desc",
            "previous_uri": None,
            "next_uri": None,
            "next_starting_after": None,
        }
        return {"pagination": pagination, "data": rows}

    # -- products and books ------------------------------------------------------------------------
    async def list_products(self, request: Request) -> wire.Json:
        if request.query_params.get("product_type", "SPOT").upper() != "SPOT":
            return {"products": [], "num_products": 0}  # ccxt asks for FUTURE on every load_markets
        wanted = set(_many(request, "product_ids"))
        with self.session() as exchange:
            products = [
                wire.product(p, exchange.book_now(p.product_id, 1), exchange.volume_24h_now(p.product_id))
                for p in self.products.values()
                if not wanted or p.product_id in wanted
            ]
        offset = _int_param(request, "offset", 0, len(products))
        limit = _int_param(request, "limit", len(products), len(products)) or len(products)
        return {"products": products[offset : offset + limit], "num_products": len(products)}

    async def get_product(self, request: Request) -> wire.Json:
        product = self._product(request.path_params["product_id"])
        with self.session() as exchange:
            return wire.product(
                product, exchange.book_now(product.product_id, 1), exchange.volume_24h_now(product.product_id)
            )

    async def product_book(self, request: Request) -> wire.Json:
        product = self._product(request.query_params.get("product_id"))
        depth = _int_param(request, "limit", FULL_DEPTH, FULL_DEPTH) or FULL_DEPTH
        with self.session() as exchange:
            book = exchange.book_now(product.product_id, depth)
        return wire.product_book(book, self.clock.now())

    async def best_bid_ask(self, request: Request) -> wire.Json:
        products = [self._product(p) for p in _many(request, "product_ids")] or list(self.products.values())
        with self.session() as exchange:
            books = [exchange.book_now(p.product_id, 1) for p in products]
        return {"pricebooks": [wire.pricebook(book, self.clock.now()) for book in books]}

    async def transaction_summary(self, request: Request) -> wire.Json:
        with self.session() as exchange:
            fills = exchange.all_fills()
        volume = sum((f.price * f.size for f in fills), start=ZERO)
        fees = sum((f.fee for f in fills), start=ZERO)
        return wire.transaction_summary(self.exchange.settings.fees, volume, fees)

    async def server_time(self, request: Request) -> wire.Json:
        return wire.server_time(self.clock.now())

    async def v2_currencies(self, request: Request) -> wire.Json:
        return wire.v2_currencies(list(self.products.values()))

    async def v2_crypto_currencies(self, request: Request) -> wire.Json:
        return wire.v2_crypto_currencies(list(self.products.values()))

    async def v2_exchange_rates(self, request: Request) -> wire.Json:
        with self.session() as exchange:
            books = {pid: exchange.book_now(pid, 1) for pid in self.products}
        return wire.v2_exchange_rates({pid: b.mid for pid, b in books.items() if b.bids and b.asks})

    async def v2_time(self, request: Request) -> wire.Json:
        return wire.v2_time(self.clock.now())

    async def audit_route(self, request: Request) -> wire.Json:
        return self.audit()


def build_app(backend: SimBackend, feed_faults: FeedFaults | None = None) -> FastAPI:
    """The FastAPI app: exact routes, Coinbase's 404 for everything else, a lifespan-owned tick,
    and Coinbase's WebSocket feed at ``/`` and ``/ws`` (``ws.py``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with asyncio.TaskGroup() as tasks:
            ticker = tasks.create_task(backend.tick())
            yield
            ticker.cancel()

    app = FastAPI(
        title="makerfirst sim-server",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    b, public, private = backend, Access.PUBLIC, Access.PRIVATE
    market = MarketRoutes(backend.session, backend.clock, backend.products)
    routes: list[tuple[str, str, Access, Handler]] = [
        ("POST", f"{PREFIX}/orders", private, b.create_order),
        ("POST", f"{PREFIX}/orders/batch_cancel", private, b.cancel_orders),
        ("POST", f"{PREFIX}/orders/preview", private, b.preview_order),
        ("POST", f"{PREFIX}/orders/edit", private, b.edit_order),
        # The two fixed paths before {order_id}, or "batch" and "fills" would be taken for ids.
        ("GET", f"{PREFIX}/orders/historical/batch", private, b.list_orders),
        ("GET", f"{PREFIX}/orders/historical/fills", private, b.list_fills),
        ("GET", f"{PREFIX}/orders/historical/{{order_id}}", private, b.get_order),
        ("GET", f"{PREFIX}/accounts", private, b.list_accounts),
        ("GET", f"{PREFIX}/accounts/{{account_uuid}}", private, b.get_account),
        ("GET", f"{PREFIX}/products", private, b.list_products),
        ("GET", f"{PREFIX}/products/{{product_id}}", private, b.get_product),
        ("GET", f"{PREFIX}/product_book", private, b.product_book),
        ("GET", f"{PREFIX}/best_bid_ask", private, b.best_bid_ask),
        ("GET", f"{PREFIX}/transaction_summary", private, b.transaction_summary),
        ("GET", f"{PREFIX}/market/products", public, b.list_products),
        ("GET", f"{PREFIX}/market/products/{{product_id}}", public, b.get_product),
        ("GET", f"{PREFIX}/market/product_book", public, b.product_book),
        ("GET", f"{PREFIX}/products/{{product_id}}/ticker", private, market.ticker),
        ("GET", f"{PREFIX}/products/{{product_id}}/candles", private, market.candles),
        ("GET", f"{PREFIX}/market/products/{{product_id}}/ticker", public, market.ticker),
        ("GET", f"{PREFIX}/market/products/{{product_id}}/candles", public, market.candles),
        ("GET", f"{PREFIX}/time", public, b.server_time),
        ("GET", "/v2/currencies", public, b.v2_currencies),
        ("GET", "/v2/currencies/crypto", public, b.v2_crypto_currencies),
        ("GET", "/v2/exchange-rates", public, b.v2_exchange_rates),
        ("GET", "/v2/time", public, b.v2_time),
        ("GET", "/v2/accounts", private, b.v2_accounts),
        ("GET", "/audit", Access.SIM, b.audit_route),
    ]
    for method, path, access, handler in routes:
        app.add_api_route(path, backend.endpoint(access, handler), methods=[method], include_in_schema=False)
    feed = FeedHub(backend.session, backend.clock, backend.products, backend.verifier, feed_faults)
    for path in ("/", "/ws"):
        app.add_api_websocket_route(path, feed.serve)

    async def not_found(_: Request, exc: Exception) -> Response:
        # 405 (a known path, another verb) is a 404 on Coinbase too: routing is method + path.
        if isinstance(exc, StarletteHTTPException) and exc.status_code not in (404, 405):
            return JSONResponse(wire.error("UNKNOWN", str(exc.detail)), status_code=exc.status_code)
        return JSONResponse(wire.ROUTE_NOT_FOUND, status_code=404)

    app.add_exception_handler(StarletteHTTPException, not_found)
    return app


# -- request helpers ---------------------------------------------------------------------------------
async def _json_body(request: Request) -> wire.Json:
    """The request's JSON object. Numbers are kept as their literal text: no float is ever made."""
    try:
        body = json.loads(await request.body(), parse_float=str, parse_int=str)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError.invalid("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError.invalid("the request body must be a JSON object")
    return body


def _decimal(fields: dict[str, Any], name: str) -> Decimal:
    text = fields.get(name)
    try:
        value = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ApiError.invalid(f"{name} must be a decimal string, got {text!r}")
    return value


def _many(request: Request, *names: str) -> list[str]:
    """A repeated query key (``product_ids=A&product_ids=B``), plus its legacy singular form."""
    return [v for name in names for v in request.query_params.getlist(name) if v]


def _int_param(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError.invalid(f"{name} must be an integer, got {text!r}") from None
    if value < 0:
        raise ApiError.invalid(f"{name} must be >= 0")
    return min(value, maximum)


def _time_param(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return wire.parse_rfc3339(text)
    except ValueError:
        raise ApiError.invalid(f"{name} must be an RFC 3339 time, got {text!r}") from None


def _page(request: Request, items: list[Any], *, default_limit: int, max_limit: int) -> tuple[list[Any], str]:
    """One page and the cursor of the next ("" when this is the last page)."""
    offset = _int_param(request, "cursor", 0, len(items))
    limit = _int_param(request, "limit", default_limit, max_limit) or default_limit
    page = items[offset : offset + limit]
    return page, str(offset + limit) if offset + limit < len(items) else ""


def _fills_by_order(fills: list[Fill]) -> dict[str, list[Fill]]:
    grouped: dict[str, list[Fill]] = {}
    for f in fills:
        grouped.setdefault(f.order_id, []).append(f)
    return grouped


def _route_key(request: Request) -> str:
    """``"GET /orders/historical/{order_id}"``: the matched route below the API prefix, the key
    that faults aimed at one route (``faults.ROUTES``) are looked up by."""
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return f"{request.method} {str(path).removeprefix(PREFIX)}"


def _too_many_requests() -> Response:
    return HTMLResponse(TOO_MANY_REQUESTS_HTML, status_code=429, headers={"Retry-After": "1"})
