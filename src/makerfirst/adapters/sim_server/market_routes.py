"""Public market data of the sim-server from the exchange's trade tape: market trades and candles.

* ``GET .../products/{product_id}/ticker?limit=N[&start=&end=]`` (public under ``/market``, and
  private): ``{"trades": [...], "best_bid", "best_ask"}``, newest trade first; ``start``/``end`` are
  unix seconds. Trades carry the maker's ``side``, as the WebSocket feed's do. ccxt's ``fetch_ticker``
  and ``fetch_trades`` read this route.
* ``GET .../products/{product_id}/candles?start=&end=&granularity=ONE_MINUTE[&limit=]``:
  ``{"candles": [{"start", "low", "high", "open", "close", "volume"}]}``, newest first, one per
  interval that had trades (as Coinbase does, an interval without trades has no candle); at most
  :data:`MAX_CANDLES` intervals per request. ccxt's ``fetch_ohlcv`` and the SDK's ``get_candles``.

The tape holds the exchange's last ``TAPE_LENGTH`` trades: older history is not served.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from makerfirst.adapters.sim.exchange import PublicTrade, SimulatedExchange
from makerfirst.adapters.sim_server import wire
from makerfirst.clock import Clock
from makerfirst.domain.money import plain

GRANULARITY_SEC = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1_800,
    "ONE_HOUR": 3_600,
    "TWO_HOUR": 7_200,
    "SIX_HOUR": 21_600,
    "ONE_DAY": 86_400,
}
MAX_CANDLES = 350
MAX_TRADES = 1_000


class MarketDataError(ValueError):
    """A bad query parameter; the message names it (the route answers 400 INVALID_ARGUMENT)."""


def _seconds(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise MarketDataError(f"{name} must be unix seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise MarketDataError(f"{name} must be unix seconds, got {text!r}")
    return value


def _limit(request: Request, default: int, maximum: int) -> int:
    text = request.query_params.get("limit") or str(default)
    try:
        value = int(text)
    except ValueError:
        raise MarketDataError(f"limit must be an integer, got {text!r}") from None
    if value <= 0:
        raise MarketDataError("limit must be >= 1")
    return min(value, maximum)


def _tape(exchange: SimulatedExchange, product_id: str) -> list[PublicTrade]:
    return [t for t in exchange.trades_since(0) if t.product_id == product_id]


def market_trades(exchange: SimulatedExchange, product_id: str, request: Request) -> wire.Json:
    """The ``/ticker`` answer (the caller holds the exchange)."""
    limit = _limit(request, 100, MAX_TRADES)
    start, end = _seconds(request, "start"), _seconds(request, "end")
    chosen = [
        t
        for t in reversed(_tape(exchange, product_id))
        if (start is None or t.time >= start) and (end is None or t.time < end)
    ][:limit]
    book = exchange.book_now(product_id, 1)
    return {
        "trades": [
            {
                "trade_id": str(t.number),
                "product_id": t.product_id,
                "price": plain(t.price),
                "size": plain(t.size),
                "time": wire.rfc3339(t.time),
                "side": t.maker_side.value,
                "bid": "",
                "ask": "",
                "exchange": "COINBASE",
            }
            for t in chosen
        ],
        "best_bid": plain(book.bids[0].price) if book.bids else "",
        "best_ask": plain(book.asks[0].price) if book.asks else "",
    }


def candles(exchange: SimulatedExchange, product_id: str, request: Request, now: float) -> wire.Json:
    """The ``/candles`` answer (the caller holds the exchange)."""
    name = request.query_params.get("granularity") or ""
    width = GRANULARITY_SEC.get(name)
    if width is None:
        raise MarketDataError(f"granularity must be one of {', '.join(GRANULARITY_SEC)}, got {name!r}")
    start, end = _seconds(request, "start"), _seconds(request, "end")
    if start is None or end is None:
        raise MarketDataError("start and end (unix seconds) are required")
    if end <= start:
        raise MarketDataError("end must be after start")
    if (end - start) / width > MAX_CANDLES:
        raise MarketDataError(f"number of candles requested should be less than {MAX_CANDLES}")
    end = min(end, now + width)
    buckets: dict[int, list[PublicTrade]] = {}
    for t in _tape(exchange, product_id):
        if start <= t.time < end:
            buckets.setdefault(int(t.time // width) * width, []).append(t)
    limit = _limit(request, MAX_CANDLES, MAX_CANDLES)
    rows = [_candle(opened, trades) for opened, trades in sorted(buckets.items(), reverse=True)]
    return {"candles": rows[:limit]}


def _candle(opened: int, trades: list[PublicTrade]) -> wire.Json:
    prices = [t.price for t in trades]
    volume = sum((t.size for t in trades), start=Decimal(0))
    return {
        "start": str(opened),
        "low": plain(min(prices)),
        "high": plain(max(prices)),
        "open": plain(prices[0]),
        "close": plain(prices[-1]),
        "volume": plain(volume),
    }


class MarketRoutes:
    """The two routes' handlers over the backend's ``session`` (exclusive use of the exchange)."""

    def __init__(
        self,
        session: Callable[[], AbstractContextManager[SimulatedExchange]],
        clock: Clock,
        products: Iterable[str],
    ) -> None:
        self._session = session
        self._clock = clock
        self._products = set(products)

    async def ticker(self, request: Request) -> wire.Json | Response:
        return self._answer(request, lambda exchange, product: market_trades(exchange, product, request))

    async def candles(self, request: Request) -> wire.Json | Response:
        now = self._clock.now()
        return self._answer(request, lambda exchange, product: candles(exchange, product, request, now))

    def _answer(
        self, request: Request, build: Callable[[SimulatedExchange, str], wire.Json]
    ) -> wire.Json | Response:
        product_id = request.path_params["product_id"]
        if product_id not in self._products:
            return JSONResponse(wire.error("INVALID_ARGUMENT", "ProductID is invalid"), status_code=400)
        try:
            with self._session() as exchange:
                return build(exchange, product_id)
        except MarketDataError as bad:
            return JSONResponse(wire.error("INVALID_ARGUMENT", str(bad)), status_code=400)
