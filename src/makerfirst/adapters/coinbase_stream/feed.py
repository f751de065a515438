"""A client of Coinbase Advanced Trade's WebSocket feed: books from ``level2``, orders from ``user``.

One connection subscribes ``heartbeats`` (so a healthy feed is never silent for more than a second),
``level2`` for the watched products and, with credentials, ``user`` (a JWT signed per subscribe,
coinbase-advanced-api.md §6). What it keeps:

* a book per product, usable only while **in sync**: from its snapshot on, every update applied,
  and the connection heard from within ``max_staleness_sec``. A ``sequence_num`` gap puts every
  book out of sync and resubscribes (fresh snapshots); a silent feed or a dropped connection
  reconnects. Out of sync, :meth:`CoinbaseFeed.book` answers None and callers read REST instead;
  the last book known in sync is kept, with the time it was last known current (``as_of``), for
  :meth:`CoinbaseFeed.last_book` (what a caller may show the liquidity guard when REST fails too).
* the latest state of every order the ``user`` channel reported since its snapshot, and a wake-up
  for whoever waits on one (:meth:`CoinbaseFeed.wait_order_update`). A gap forgets them (REST
  answers until the ``user`` snapshot is back; ``user_since`` says when it came back).

Runs as one task on the caller's loop (:meth:`start`, :meth:`close`); time is the injected clock's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import ssl
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from websockets.asyncio.client import ClientConnection, connect

from makerfirst.adapters.ccxt_exchange.credentials import ApiCredentials
from makerfirst.adapters.ccxt_exchange.parsing import epoch_of_rfc3339
from makerfirst.clock import Clock
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.orders import OrderReport, OrderStatus, OrderType, Side

log = logging.getLogger("makerfirst.adapters.coinbase_stream")

COINBASE_WS = "wss://advanced-trade-ws.coinbase.com"
STALE_SEC = 3.0  # heartbeats come every second: three missed is a dead feed
RECONNECT_SEC = 1.0
_SIDES = {"bid": "bids", "offer": "asks", "ask": "asks"}
_STATUSES = {s.value: s for s in OrderStatus}
_TROUBLE = (OSError, TimeoutError, asyncio.TimeoutError)


def sign_ws_jwt(credentials: ApiCredentials, now: float) -> str:
    """The subscribe JWT: the REST claims without ``uri`` (ES256 for a PEM key, EdDSA for base64)."""
    secret = credentials.private_key.get_secret_value()
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if secret.lstrip().startswith("-----BEGIN"):
        loaded = serialization.load_pem_private_key(secret.encode(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("the CDP key is not an EC key")
        key, algorithm = loaded, "ES256"
    else:
        key, algorithm = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret)[:32]), "EdDSA"
    issued = int(now)
    claims = {"sub": credentials.key_name, "iss": "cdp", "nbf": issued, "exp": issued + 120}
    headers = {"kid": credentials.key_name, "nonce": secrets.token_hex()}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@dataclass(slots=True)
class _Book:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    updated_at: float = 0.0
    in_sync: bool = True  # from this connection's snapshot on, every update applied
    as_of: float = 0.0  # out of sync: when it was last known current


def report_of_user_order(order: dict[str, Any], size: Decimal | None) -> OrderReport:
    """A ``user`` channel order as a report. ``size``: what was ordered, when the caller knows it
    (the channel's ``leaves_quantity`` of a finished order says nothing about it)."""
    filled = Decimal(order.get("cumulative_quantity") or "0")
    leaves = Decimal(order.get("leaves_quantity") or "0")
    average = Decimal(order.get("avg_price") or "0")
    end = str(order.get("end_time") or "")
    resting = order.get("post_only") in ("true", True)
    return OrderReport(
        order_id=str(order["order_id"]),
        client_order_id=str(order.get("client_order_id", "")),
        product_id=str(order["product_id"]),
        side=Side(str(order["order_side"]).upper()),
        order_type=OrderType.POST_ONLY_GTD if resting else OrderType.LIMIT_IOC,
        status=_STATUSES[str(order["status"])],
        size=size if size is not None else filled + leaves,
        limit_price=Decimal(order.get("limit_price") or average or "0"),
        filled_size=filled,
        filled_value=Decimal(order.get("filled_value") or filled * average),
        total_fees=Decimal(order.get("total_fees") or "0"),
        created_time=epoch_of_rfc3339(order["creation_time"]) if order.get("creation_time") else 0.0,
        end_time=epoch_of_rfc3339(end) if end and not end.startswith("0001-") else None,
    )


class CoinbaseFeed:
    """See the module docs. ``products`` are watched from the start; :meth:`watch` adds more."""

    def __init__(
        self,
        *,
        clock: Clock,
        products: list[str],
        credentials: ApiCredentials | None = None,
        ws_url: str = COINBASE_WS,
        ca_file: Path | None = None,
        max_staleness_sec: float = STALE_SEC,
    ) -> None:
        self._clock = clock
        self._products = list(dict.fromkeys(products))
        self._credentials = credentials
        self._ws_url = ws_url
        self._ca_file = ca_file
        self.max_staleness_sec = max_staleness_sec
        self._books: dict[str, _Book] = {}
        self._orders: dict[str, dict[str, Any]] = {}
        self._sizes: dict[str, Decimal] = {}
        self._wakers: dict[str, asyncio.Event] = {}
        self._heard_at = -1e18
        self._expected: int | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._user_live = False
        self._user_since: float | None = None
        self.gaps = 0
        self.connections = 0

    # -- reading ---------------------------------------------------------------------------------
    @property
    def fresh(self) -> bool:
        """Heard from within ``max_staleness_sec``."""
        return self._clock.now() - self._heard_at <= self.max_staleness_sec

    def book(self, product_id: str, depth: int = 50) -> OrderBook | None:
        """The product's book when in sync and fresh, else None (read REST)."""
        book = self._books.get(product_id)
        if book is None or not book.in_sync or not self.fresh:
            return None
        return self._view(product_id, book, depth)

    def last_book(self, product_id: str, depth: int = 50) -> OrderBook | None:
        """The product's last book known in sync, however old (``as_of`` says when it was last known
        current), or None if there never was one. Only for showing the liquidity guard its age."""
        book = self._books.get(product_id)
        return None if book is None else self._view(product_id, book, depth)

    def _view(self, product_id: str, book: _Book, depth: int) -> OrderBook:
        bids = sorted(book.bids.items(), reverse=True)[:depth]
        asks = sorted(book.asks.items())[:depth]
        return OrderBook(
            product_id=product_id,
            bids=tuple(Level(p, s) for p, s in bids),
            asks=tuple(Level(p, s) for p, s in asks),
            timestamp=book.updated_at,
            as_of=self._heard_at if book.in_sync else book.as_of,
        )

    @property
    def user_live(self) -> bool:
        """The ``user`` channel's snapshot is in and the connection is fresh: every change of an
        order from ``user_since`` on is reported."""
        return self._user_live and self.fresh

    @property
    def user_since(self) -> float | None:
        """When the current ``user`` snapshot started (None: not live)."""
        return self._user_since if self._user_live else None

    def order(self, order_id: str) -> OrderReport | None:
        """The order as the ``user`` channel last reported it (None: unknown, or the feed is not live)."""
        raw = self._orders.get(order_id)
        if raw is None or not self._user_live or not self.fresh:
            return None
        return report_of_user_order(raw, self._sizes.get(order_id))

    def expect(self, order_id: str, size: Decimal) -> None:
        """Remember what ``order_id`` was for, so its report carries the ordered size."""
        self._sizes[order_id] = size

    async def wait_order_update(self, order_id: str, until: float) -> None:
        """Return when the ``user`` channel reports a change of ``order_id``, or at ``until``."""
        waker = self._wakers.setdefault(order_id, asyncio.Event())
        woken = asyncio.ensure_future(waker.wait())
        timer = asyncio.ensure_future(self._clock.sleep_until(until))
        try:
            await asyncio.wait({woken, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, timer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if waker.is_set():
                self._wakers.pop(order_id, None)

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="coinbase-feed")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Stop the feed's task and close its connection (idempotent). A task left by a loop that
        has ended was ended with it: there is nothing to await."""
        task, self._task = self._task, None
        if task is None:
            return
        if task.get_loop() is not asyncio.get_running_loop():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def watch(self, product_id: str) -> None:
        """Keep ``product_id``'s book too (subscribes now if connected)."""
        if product_id in self._products:
            return
        self._products.append(product_id)
        if self._ws is not None:
            with contextlib.suppress(*_TROUBLE, Exception):
                await self._send("subscribe", "level2", [product_id])

    async def _run(self) -> None:
        while True:
            try:
                await self._connection()
            except (*_TROUBLE, Exception) as lost:  # whatever ends a connection: reconnect
                log.warning("feed connection lost (%s); reconnecting", type(lost).__name__)
            self._forget()
            await self._clock.sleep_until(self._clock.now() + RECONNECT_SEC)

    async def _connection(self) -> None:
        context = None
        if self._ws_url.startswith("wss://"):
            context = ssl.create_default_context()
            if self._ca_file is not None:
                context.load_verify_locations(cafile=str(self._ca_file))
        async with connect(self._ws_url, ssl=context, open_timeout=10, max_size=None) as ws:
            self._ws, self._expected = ws, None
            self.connections += 1
            try:
                await self._subscribe_all()
                log.info(
                    "feed connected to %s: heartbeats, level2 for %d products%s",
                    self._ws_url,
                    len(self._products),
                    ", user" if self._credentials is not None else "",
                    extra={"event": "feed_connected"},
                )
                while True:
                    text = await asyncio.wait_for(ws.recv(), timeout=self.max_staleness_sec)
                    await self._handle(json.loads(text))
            finally:
                self._ws = None

    async def _subscribe_all(self) -> None:
        await self._send("subscribe", "heartbeats", [])
        if self._products:
            await self._send("subscribe", "level2", self._products)
        if self._credentials is not None:
            await self._send("subscribe", "user", [])

    async def _send(self, kind: str, channel: str, products: list[str]) -> None:
        assert self._ws is not None
        message: dict[str, Any] = {"type": kind, "channel": channel, "product_ids": products}
        if channel == "user" and self._credentials is not None:
            message["jwt"] = sign_ws_jwt(self._credentials, self._clock.now())
        await self._ws.send(json.dumps(message))

    def _forget(self) -> None:
        for book in self._books.values():
            if book.in_sync:
                book.in_sync, book.as_of = False, self._heard_at
        self._orders.clear()
        self._user_live, self._user_since = False, None
        for waker in self._wakers.values():
            waker.set()  # whoever waits reads REST now
        self._wakers.clear()

    async def _handle(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        now = self._clock.now()
        if message.get("type") == "error":
            self._heard_at = now
            log.warning("feed error: %s", message.get("message"))
            return
        sequence = message.get("sequence_num")
        if isinstance(sequence, int):
            if self._expected is not None and sequence != self._expected:
                await self._resync(sequence)  # the books were last current at the message before
                self._heard_at, self._expected = now, sequence + 1
                return
            self._expected = sequence + 1
        self._heard_at = now
        channel = message.get("channel")
        for event in message.get("events") or []:
            if channel == "l2_data":
                self._level2(event, now)
            elif channel == "user":
                self._user(event, now)

    async def _resync(self, got: int) -> None:
        self.gaps += 1
        log.info("feed gap: expected sequence %s, got %s; resubscribing", self._expected, got)
        self._forget()
        if self._products:
            await self._send("unsubscribe", "level2", self._products)
            await self._send("subscribe", "level2", self._products)
        if self._credentials is not None:
            await self._send("unsubscribe", "user", [])
            await self._send("subscribe", "user", [])

    def _level2(self, event: dict[str, Any], now: float) -> None:
        product_id = str(event.get("product_id"))
        if event.get("type") == "snapshot":
            self._books[product_id] = _Book()
        book = self._books.get(product_id)
        if book is None or not book.in_sync:
            return  # an update before this connection's snapshot: not ours to apply
        for u in event.get("updates") or []:
            levels = book.bids if _SIDES[u["side"]] == "bids" else book.asks
            price, size = Decimal(u["price_level"]), Decimal(u["new_quantity"])
            if size == 0:
                levels.pop(price, None)
            else:
                levels[price] = size
        book.updated_at = now

    def _user(self, event: dict[str, Any], now: float) -> None:
        if event.get("type") == "snapshot" and not self._user_live:
            self._user_live, self._user_since = True, now
        for order in event.get("orders") or []:
            order_id = str(order["order_id"])
            self._orders[order_id] = order
            waker = self._wakers.pop(order_id, None)
            if waker is not None:
                waker.set()
