"""A narrow, typed wrapper around one ``ccxt.async_support`` exchange, and ccxt's errors classified.

ccxt ships no type information; this module is the only one that touches it. Everything it
returns is a JSON-like ``dict`` / ``list`` that :mod:`.parsing` turns into domain types, and
every ccxt exception leaves as a :class:`VenueFailure` kind that says what to do about it.
"""

from __future__ import annotations

import decimal
import json
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]  # ccxt ships no type hints

from makerfirst.adapters.ccxt_exchange.capabilities import VenueCapabilities
from makerfirst.adapters.ccxt_exchange.credentials import ApiCredentials, Redactor
from makerfirst.adapters.ccxt_exchange.endpoints import rewrite_api_urls
from makerfirst.domain.errors import MakerfirstError

JsonDict = dict[str, Any]

HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
HTTP_GATEWAY_TIMEOUT = 504


class FailureKind(StrEnum):
    """What a failed request means for the caller."""

    RATE_LIMITED = "rate_limited"  # not processed: wait, then the same request may be sent again
    TRANSIENT = "transient"  # timeout, network error, 5xx: a read may be retried; a write's effect is unknown
    AUTHENTICATION = "authentication"  # stop: credentials or permissions are wrong
    NOT_FOUND = "not_found"  # the venue does not know the id
    REFUSED = "refused"  # the venue answered and refused (bad request, order rejected ...)


@dataclass(frozen=True, slots=True)
class VenueFailure:
    kind: FailureKind
    message: str  # redacted
    body: JsonDict | None  # the venue's JSON answer, when ccxt quoted it


class _WireLogFilter(logging.Filter):
    """ccxt debug-logs every request with its headers (the bearer token): redact before emitting."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        return True


# One logger for every instance: ccxt's log lines carry tokens and bodies, never the private key
# itself, so the generic redaction (bearer tokens, PEM blocks) is enough and the filter is added once.
WIRE_LOG = logging.getLogger("makerfirst.adapters.ccxt_exchange.wire")
WIRE_LOG.addFilter(_WireLogFilter(Redactor()))


def _status_aware_handle_errors(base: Any) -> Any:
    """ccxt lets any JSON body with an ``error`` key decide the exception before the HTTP status
    does, so a 500 ``{"error": "INTERNAL"}`` or a 429 ``{"error": "RATE_LIMIT_EXCEEDED"}`` would
    come out as a plain ``ExchangeError``. The status says more: check it first. 401 and 403 are
    authentication failures whatever the body says: they stop the bot."""
    inherited = base.handle_errors

    def handle_errors(  # noqa: PLR0917 - ccxt calls it with these ten positional arguments
        self: Any,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        summary = f"{self.id} {method} {url} {code} {reason} {(body or '')[:300]}"
        if code == HTTP_UNAUTHORIZED:
            raise ccxt_async.AuthenticationError(summary)
        if code == HTTP_FORBIDDEN:
            # ccxt's table calls a bare 403 "exchange not available" (retry); it is a key without
            # the permission, or an address the venue refuses: retrying cannot help.
            raise ccxt_async.PermissionDenied(summary)
        if code == HTTP_TOO_MANY_REQUESTS:
            raise ccxt_async.RateLimitExceeded(summary)
        if code == HTTP_GATEWAY_TIMEOUT:
            raise ccxt_async.RequestTimeout(summary)
        if code >= HTTP_SERVER_ERROR:
            raise ccxt_async.ExchangeNotAvailable(summary)
        return inherited(
            self, code, reason, url, method, headers, body, response, request_headers, request_body
        )

    return handle_errors


def _exchange_class(exchange_id: str) -> Any:
    base = getattr(ccxt_async, exchange_id, None)
    if base is None or not isinstance(base, type):
        raise MakerfirstError(f"ccxt has no exchange {exchange_id!r}")
    return type(f"Makerfirst_{exchange_id}", (base,), {"handle_errors": _status_aware_handle_errors(base)})


@dataclass(frozen=True, slots=True)
class ApiEndpoints:
    """Where an exchange instance sends requests: ccxt's ``urls['api']`` (a URL or a nested mapping
    of them, one per API group) and the ``hostname`` that fills their ``{hostname}`` placeholder."""

    urls: object
    hostname: str | None


def _configured_exchange(exchange_id: str, config: JsonDict, api_url: str | None) -> Any:
    exchange = _exchange_class(exchange_id)(config)
    if api_url is not None:
        # Every API group's URL, not one key: ccxt deep-merges a config's ``urls``, so a key it does
        # not use would leave the real venue's URLs in place (Kraken's public and private).
        exchange.urls = {**exchange.urls, "api": rewrite_api_urls(exchange.urls.get("api"), api_url)}
    return exchange


def _endpoints_of(exchange: Any) -> ApiEndpoints:
    hostname = getattr(exchange, "hostname", None)
    return ApiEndpoints(exchange.urls.get("api"), hostname if isinstance(hostname, str) else None)


def api_endpoints(exchange_id: str, api_url: str | None) -> ApiEndpoints:
    """The endpoints a :class:`CcxtClient` for ``exchange_id`` and ``api_url`` would use, read from a
    throwaway instance built the same way (no credentials, no connection)."""
    return _endpoints_of(_configured_exchange(exchange_id, {}, api_url))


class CcxtClient:
    """One ccxt exchange instance, typed at the edge. Not safe to share across event loops."""

    def __init__(
        self,
        caps: VenueCapabilities,
        *,
        api_url: str | None,
        credentials: ApiCredentials | None,
        timeout_sec: float,
    ) -> None:
        config: JsonDict = {
            # Our own limiter paces requests on the injected clock; ccxt's would sleep on the wall clock.
            "enableRateLimit": False,
            "timeout": max(1, round(timeout_sec * 1000)),
        }
        for key, value in caps.ccxt_config.items():
            config[key] = json.loads(json.dumps(value))  # a private, mutable copy for ccxt
        if credentials is not None:
            config["apiKey"] = credentials.key_name
            config["secret"] = credentials.private_key.get_secret_value()
        self._ex: Any = _configured_exchange(caps.exchange_id, config, api_url)
        self._ex.logger = WIRE_LOG

    def has(self, feature: str) -> bool:
        return bool(cast(Mapping[str, Any], self._ex.has).get(feature))

    @property
    def markets_loaded(self) -> bool:
        return bool(self._ex.markets)

    async def load_markets(self, *, reload: bool = False) -> None:
        await self._isolated(self._ex.load_markets(reload))

    def market_by_id(self, market_id: str) -> JsonDict | None:
        """The unified market for a venue market id (``PENGU-USD``), or None."""
        by_id = cast(Mapping[str, Any] | None, self._ex.markets_by_id) or {}
        found = by_id.get(market_id)
        if isinstance(found, list):
            found = found[0] if found else None
        return cast(JsonDict, found) if isinstance(found, dict) else None

    def market_id(self, symbol: str) -> str:
        return str(self._ex.market_id(symbol))

    def amount_to_precision(self, symbol: str, amount: str) -> str | None:
        """``amount`` as ccxt would send it (truncated to the lot), or None if that is nothing."""
        try:
            with decimal.localcontext():
                return str(self._ex.amount_to_precision(symbol, amount))
        except ccxt_async.BaseError:
            return None

    def price_to_precision(self, symbol: str, price: str) -> str | None:
        """``price`` as ccxt would send it (rounded to the tick), or None if that is nothing."""
        try:
            with decimal.localcontext():
                return str(self._ex.price_to_precision(symbol, price))
        except ccxt_async.BaseError:
            return None

    async def fetch_order_book(self, symbol: str, limit: int, params: Mapping[str, Any]) -> JsonDict:
        return cast(JsonDict, await self._isolated(self._ex.fetch_order_book(symbol, limit, dict(params))))

    async def fetch_balance(self) -> JsonDict:
        return cast(JsonDict, await self._isolated(self._ex.fetch_balance()))

    async def fetch_trading_fees(self) -> dict[str, JsonDict]:
        return cast(dict[str, JsonDict], await self._isolated(self._ex.fetch_trading_fees()))

    async def create_limit_order(
        self, symbol: str, side: str, amount: str, price: str, params: Mapping[str, Any]
    ) -> JsonDict:
        """Amount and price go in as decimal strings: ccxt formats them to the market's precision
        with ``Decimal`` arithmetic and sends strings; no float is ever built from them."""
        return cast(
            JsonDict,
            await self._isolated(self._ex.create_order(symbol, "limit", side, amount, price, dict(params))),
        )

    async def fetch_order(self, order_id: str, symbol: str | None, params: Mapping[str, Any]) -> JsonDict:
        return cast(JsonDict, await self._isolated(self._ex.fetch_order(order_id, symbol, dict(params))))

    async def fetch_open_orders(self, symbol: str | None) -> list[JsonDict]:
        return cast(list[JsonDict], await self._isolated(self._ex.fetch_open_orders(symbol)))

    async def fetch_orders(self, symbol: str | None, since_ms: int | None) -> list[JsonDict]:
        return cast(list[JsonDict], await self._isolated(self._ex.fetch_orders(symbol, since_ms)))

    async def fetch_order_trades(self, order_id: str, symbol: str | None) -> list[JsonDict]:
        return cast(list[JsonDict], await self._isolated(self._ex.fetch_order_trades(order_id, symbol)))

    async def cancel_order(self, order_id: str, symbol: str | None) -> JsonDict:
        return cast(JsonDict, await self._isolated(self._ex.cancel_order(order_id, symbol)))

    async def raw(self, endpoint: str, params: Mapping[str, Any]) -> JsonDict:
        """Call one of ccxt's implicit endpoint methods (signed and sent by ccxt) by name."""
        method = getattr(self._ex, endpoint)
        return cast(JsonDict, await self._isolated(method(dict(params))))

    async def close(self) -> None:
        await self._ex.close()

    @staticmethod
    async def _isolated(call: Awaitable[Any]) -> Any:
        """Await a ccxt call in a private decimal context.

        ccxt's ``decimal_to_precision`` sets the *current* context's rounding to HALF_UP and traps
        underflow; on the shared thread context that would silently change how every ``Decimal``
        of ours rounds (``money.usd`` stops rounding half-even).
        """
        with decimal.localcontext():
            return await call


def json_in_message(message: str) -> JsonDict | None:
    """The JSON object ccxt quotes in an error message (``"coinbase {...}"``), if any."""
    start = message.find("{")
    while start != -1:
        try:
            found, _ = json.JSONDecoder().raw_decode(message, start)
        except ValueError:
            start = message.find("{", start + 1)
            continue
        return cast(JsonDict, found) if isinstance(found, dict) else None
    return None


def _looks_not_found(message: str, body: JsonDict | None) -> bool:
    if body is not None and str(body.get("error", "")).upper() == "NOT_FOUND":
        return True
    # ccxt's own not-found pattern for Coinbase never matches (§7.4): read the text instead.
    return "not found" in message.lower()


def classify(exc: BaseException, redact: Redactor) -> VenueFailure | None:
    """What a ccxt (or transport) exception means, or None when it is not a venue failure at all."""
    message = redact(str(exc) or type(exc).__name__)
    body = json_in_message(message)
    if isinstance(exc, ccxt_async.RateLimitExceeded | ccxt_async.DDoSProtection):
        return VenueFailure(FailureKind.RATE_LIMITED, message, body)
    if isinstance(exc, ccxt_async.NetworkError | TimeoutError | ConnectionError):
        return VenueFailure(FailureKind.TRANSIENT, message, body)
    if isinstance(exc, ccxt_async.AuthenticationError | ccxt_async.AccountSuspended):
        return VenueFailure(FailureKind.AUTHENTICATION, message, body)
    if isinstance(exc, ccxt_async.OrderNotFound) or (
        isinstance(exc, ccxt_async.ExchangeError) and _looks_not_found(message, body)
    ):
        return VenueFailure(FailureKind.NOT_FOUND, message, body)
    if isinstance(exc, ccxt_async.BaseError):
        return VenueFailure(FailureKind.REFUSED, message, body)
    return None
