"""Coinbase Advanced Trade's WebSocket feed (coinbase-advanced-api.md §6) over the simulated exchange.

Served at ``/`` (the path of ``wss://advanced-trade-ws.coinbase.com``) and ``/ws``. A client sends
``{"type": "subscribe"|"unsubscribe", "channel": ..., "product_ids": [...], "jwt": ...}``, one channel
a message, within :data:`SUBSCRIBE_DEADLINE_SEC` of connecting. Channels:

* ``level2`` (messages on ``l2_data``): a ``snapshot`` of the whole book per product, then ``update``
  events with the new absolute size of every level that changed (``"0"`` removes it);
* ``market_trades``: batches of the public tape; ``side`` is the **maker's** side, as Coinbase documents;
* ``ticker``: best bid/ask with their sizes and the last price, whenever one of them changes;
* ``heartbeats``: one a second, ``heartbeat_counter`` counting up;
* ``user`` (JWT required, §2.1 claims without ``uri``): a ``snapshot`` of the open orders in batches of
  50, then an ``update`` for every order whose status, fills or fees changed.

Every message is the envelope ``{"channel", "client_id", "timestamp", "sequence_num", "events"}`` with
``sequence_num`` counting up by one per message on the connection, so a client sees a lost message as
a gap. A ``subscriptions`` message lists what is active after every (un)subscribe; refusals come as
``{"type": "error", "message": ...}``.

Each connection keeps its own view of what it has sent and, every :data:`PUMP_SEC` on the server's
clock, sends what changed since; one pass reads the exchange under the backend's lock, so the level2
update and the ticker of one pass describe the same book. :class:`FeedFaults` drops messages (their
numbers are used up: the client sees the gap) and disconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from decimal import Decimal

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from makerfirst.adapters.sim.exchange import PublicTrade, SimulatedExchange
from makerfirst.adapters.sim_server import wire
from makerfirst.adapters.sim_server.auth import AuthError, JwtVerifier
from makerfirst.clock import Clock
from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import ZERO, plain
from makerfirst.domain.orders import OrderReport, OrderStatus, OrderType
from makerfirst.domain.product import Product

log = logging.getLogger("makerfirst.sim_server.ws")

PUMP_SEC = 0.1
HEARTBEAT_SEC = 1.0
SUBSCRIBE_DEADLINE_SEC = 5.0
USER_SNAPSHOT_BATCH = 50
FULL_DEPTH = 1_000
PUBLIC_CHANNELS = ("level2", "market_trades", "ticker", "heartbeats")
CHANNELS = (*PUBLIC_CHANNELS, "user")
WIRE_CHANNEL = {"level2": "l2_data"}  # level2 is subscribed as "level2" but arrives as "l2_data"
EMPTY_POSITIONS: wire.Json = {"perpetual_futures_positions": [], "expiring_futures_positions": []}


@dataclass(frozen=True, slots=True)
class FeedFaults:
    """WebSocket faults: ``drop`` loses a message with this probability (its sequence number is used
    up, so the client sees a gap); ``disconnect_after`` closes each connection after that many
    messages (0: never). Seeded per connection from ``seed`` and the connection's number."""

    drop: float = 0.0
    disconnect_after: int = 0
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> FeedFaults:
        """``"drop=0.01,disconnect_after=500,seed=3"`` (any subset; empty text: no faults)."""
        values: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key not in ("drop", "disconnect_after", "seed"):
                raise ValueError(
                    f"--ws-faults: {item!r} is not drop=P, disconnect_after=N or seed=N (comma-separated)"
                )
            values[key] = value
        try:
            faults = cls(
                drop=float(values.get("drop", "0")),
                disconnect_after=int(values.get("disconnect_after", "0")),
                seed=int(values.get("seed", "0")),
            )
        except ValueError:
            raise ValueError(f"--ws-faults: not a number in {text!r}") from None
        if not 0.0 <= faults.drop <= 1.0 or faults.disconnect_after < 0:
            raise ValueError("--ws-faults: drop is a probability in [0, 1], disconnect_after a count >= 0")
        return faults


@dataclass(slots=True)
class _ProductView:
    """What this connection last told the client about one product."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    ticker: tuple[Decimal | None, Decimal, Decimal | None, Decimal, Decimal | None] | None = None
    last_price: Decimal | None = None


class FeedHub:
    """The feed's shared parts: ``session`` (the backend's: exclusive use of the exchange, advanced
    to now), the clock, the products, the key verifier and the faults."""

    def __init__(
        self,
        session: Callable[[], AbstractContextManager[SimulatedExchange]],
        clock: Clock,
        products: dict[str, Product],
        verifier: JwtVerifier,
        faults: FeedFaults | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.products = products
        self.verifier = verifier
        self.faults = faults or FeedFaults()
        self._connections = 0

    async def serve(self, websocket: WebSocket) -> None:
        """Run one client connection until it closes (or a fault closes it)."""
        await websocket.accept()
        self._connections += 1
        connection = _Connection(
            self, websocket, random.Random(self.faults.seed * 1_000_003 + self._connections)
        )
        await connection.run()


class _ClosedError(Exception):
    """The connection is over (client gone, or a fault closed it)."""


class _Connection:
    def __init__(self, hub: FeedHub, websocket: WebSocket, rng: random.Random) -> None:
        self.hub = hub
        self.ws = websocket
        self.rng = rng
        self.sequence = 0
        self.sent = 0
        self.subscriptions: dict[str, set[str]] = {}
        self.views: dict[str, _ProductView] = {}
        self.next_trade: int | None = None
        # order id → (status, filled, fees, size, price) last reported: any change is an update
        self.user_orders: dict[str, tuple[OrderStatus, Decimal, Decimal, Decimal, Decimal]] | None = None
        self.user_products: set[str] = set()
        self.heartbeat_counter = 0
        self.next_heartbeat = 0.0
        self.connected_at = hub.clock.now()
        self.pending: list[wire.Json] = []  # subscribe/unsubscribe requests read, not yet applied
        self.replies: list[wire.Json] = []  # answers to them, sent with the next pass
        self.snapshot_due: set[str] = set()  # level2 products whose next message is a snapshot

    async def run(self) -> None:
        reader = asyncio.ensure_future(self._read())
        try:
            while not reader.done():
                self._apply_requests()
                if (
                    not self.subscriptions
                    and self.hub.clock.now() - self.connected_at > SUBSCRIBE_DEADLINE_SEC
                ):
                    await self._send_raw({"type": "error", "message": "subscribe within 5 seconds"})
                    break
                await self._pump()
                await self.hub.clock.sleep_until(self.hub.clock.now() + PUMP_SEC)
        except (_ClosedError, WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await reader
            if self.ws.application_state is WebSocketState.CONNECTED:
                with suppress(Exception):
                    await self.ws.close()

    async def _read(self) -> None:
        while True:
            text = await self.ws.receive_text()
            try:
                message = json.loads(text)
            except json.JSONDecodeError:
                message = None
            if not isinstance(message, dict):
                self.pending.append({"type": "invalid"})
                continue
            self.pending.append(message)

    # -- subscriptions ------------------------------------------------------------------------
    def _apply_requests(self) -> None:
        requests, self.pending = self.pending, []
        for request in requests:
            self.replies.extend(self._apply(request))

    def _apply(self, request: wire.Json) -> list[wire.Json]:
        refusal = self._refusal(request)
        if refusal is not None:
            return [{"type": "error", "message": refusal}]
        channel = str(request["channel"])
        products = set(request.get("product_ids") or [])
        if request["type"] == "unsubscribe":
            current = self.subscriptions.get(channel, set())
            remaining = current - products if products else set()
            if remaining:
                self.subscriptions[channel] = remaining
            else:
                self.subscriptions.pop(channel, None)
            self._forget(channel, current - remaining)
            return [{"subscriptions": True}]
        self.subscriptions.setdefault(channel, set()).update(products)
        if channel == "user":
            self.user_orders = None  # the next pass sends the snapshot
            self.user_products = set(self.subscriptions["user"])
        for product_id in products:
            view = self.views.setdefault(product_id, _ProductView())
            if channel == "level2":
                view.bids, view.asks = {}, {}
                self.snapshot_due.add(product_id)
            if channel == "ticker":
                view.ticker = None
        if channel == "market_trades":
            self.next_trade = None
        return [{"subscriptions": True}]

    def _refusal(self, request: wire.Json) -> str | None:
        """Why ``request`` cannot be applied, or None."""
        kind, channel = request.get("type"), request.get("channel")
        if kind not in ("subscribe", "unsubscribe"):
            return "type must be subscribe or unsubscribe"
        if channel not in CHANNELS:
            return f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}"
        raw = request.get("product_ids") or []
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            return "product_ids must be a list of product id strings"
        unknown = sorted(set(raw) - set(self.hub.products))
        if unknown:
            return f"unknown product_ids: {', '.join(unknown)}"
        if kind == "subscribe" and channel == "user":
            try:
                self.hub.verifier.verify_websocket(request.get("jwt"))
            except AuthError as refused:
                log.warning("ws user subscribe refused: %s", refused)
                return "authentication failure"
        if kind == "subscribe" and not raw and channel in ("level2", "market_trades", "ticker"):
            return f"{channel} needs product_ids"
        return None

    def _forget(self, channel: str, products: set[str]) -> None:
        if channel == "user":
            self.user_orders = None
        for product_id in products:
            view = self.views.get(product_id)
            if view is not None and channel == "level2":
                view.bids, view.asks = {}, {}
                self.snapshot_due.discard(product_id)

    # -- one pass ----------------------------------------------------------------------------------
    async def _pump(self) -> None:
        outgoing: list[tuple[str, list[wire.Json]]] = []
        replies, self.replies = self.replies, []
        now = self.hub.clock.now()
        with self.hub.session() as exchange:
            for reply in replies:
                if reply.get("type") == "error":
                    outgoing.append(("error", [reply]))
                else:
                    outgoing.append(("subscriptions", [{"subscriptions": self._listing()}]))
            outgoing.extend(self._market_events(exchange, now))
            if "user" in self.subscriptions:
                outgoing.extend(("user", [event]) for event in self._user_events(exchange))
        if "heartbeats" in self.subscriptions and now >= self.next_heartbeat:
            self.next_heartbeat = now + HEARTBEAT_SEC
            self.heartbeat_counter += 1
            beat = {"current_time": wire.rfc3339(now), "heartbeat_counter": str(self.heartbeat_counter)}
            outgoing.append(("heartbeats", [beat]))
        for channel, events in outgoing:
            if channel == "error":
                await self._send_raw(events[0])
            else:
                await self._send(channel, events, now)

    def _market_events(self, exchange: SimulatedExchange, now: float) -> list[tuple[str, list[wire.Json]]]:
        """level2, then trades, then tickers: all read from the exchange at one instant."""
        outgoing: list[tuple[str, list[wire.Json]]] = []
        booked = set().union(*(self.subscriptions.get(c, set()) for c in ("level2", "ticker")))
        books = {p: exchange.book_now(p, FULL_DEPTH) for p in booked}
        trades = self._new_trades(exchange)
        for product_id in sorted(self.subscriptions.get("level2", set())):
            event = self._level2_event(product_id, books[product_id], now)
            if event is not None:
                outgoing.append(("level2", [event]))
        if "market_trades" in self.subscriptions:
            wanted = self.subscriptions["market_trades"]
            mine = [_trade(t) for t in trades if t.product_id in wanted]
            if mine:
                outgoing.append(("market_trades", [{"type": "update", "trades": mine}]))
        if "ticker" in self.subscriptions:
            tickers = self._tickers(books, trades, exchange)
            if tickers:
                outgoing.append(("ticker", tickers))
        return outgoing

    def _listing(self) -> dict[str, list[str]]:
        return {channel: sorted(products) for channel, products in self.subscriptions.items()}

    def _level2_event(self, product_id: str, book: OrderBook, now: float) -> wire.Json | None:
        view = self.views[product_id]
        bids = {level.price: level.size for level in book.bids}
        asks = {level.price: level.size for level in book.asks}
        stamp = wire.rfc3339(now)
        if product_id in self.snapshot_due:
            self.snapshot_due.discard(product_id)
            view.bids, view.asks = bids, asks
            updates = _levels("bid", bids.items(), stamp) + _levels("offer", asks.items(), stamp)
            return {"type": "snapshot", "product_id": product_id, "updates": updates}
        updates = _changes("bid", view.bids, bids, stamp) + _changes("offer", view.asks, asks, stamp)
        view.bids, view.asks = bids, asks
        if not updates:
            return None
        return {"type": "update", "product_id": product_id, "updates": updates}

    def _new_trades(self, exchange: SimulatedExchange) -> list[PublicTrade]:
        if self.next_trade is None:  # subscribed just now: from here on
            self.next_trade = exchange.trade_count
            return []
        trades = exchange.trades_since(self.next_trade)
        self.next_trade = exchange.trade_count
        return trades

    def _tickers(
        self, books: dict[str, OrderBook], trades: list[PublicTrade], exchange: SimulatedExchange
    ) -> list[wire.Json]:
        events: list[wire.Json] = []
        for t in trades:
            view = self.views.get(t.product_id)
            if view is not None:
                view.last_price = t.price
        tickers: list[wire.Json] = []
        first = False
        for product_id in sorted(self.subscriptions["ticker"]):
            view, book = self.views[product_id], books[product_id]
            bid, ask = (book.bids[0] if book.bids else None), (book.asks[0] if book.asks else None)
            state = (
                bid.price if bid else None,
                bid.size if bid else ZERO,
                ask.price if ask else None,
                ask.size if ask else ZERO,
                view.last_price,
            )
            if state == view.ticker:
                continue
            first = first or view.ticker is None
            view.ticker = state
            price = view.last_price if view.last_price is not None else (book.mid if bid and ask else ZERO)
            tickers.append(
                {
                    "type": "ticker",
                    "product_id": product_id,
                    "price": plain(price),
                    "volume_24_h": plain(exchange.volume_24h_now(product_id) / price) if price else "0",
                    "low_24_h": plain(price),
                    "high_24_h": plain(price),
                    "low_52_w": plain(price),
                    "high_52_w": plain(price),
                    "price_percent_chg_24_h": "0",
                    "best_bid": plain(bid.price) if bid else "",
                    "best_bid_quantity": plain(bid.size) if bid else "0",
                    "best_ask": plain(ask.price) if ask else "",
                    "best_ask_quantity": plain(ask.size) if ask else "0",
                }
            )
        if tickers:
            events.append({"type": "snapshot" if first else "update", "tickers": tickers})
        return events

    def _user_events(self, exchange: SimulatedExchange) -> list[wire.Json]:
        wanted = self.user_products
        reports = [r for r in exchange.all_orders() if not wanted or r.product_id in wanted]
        states = {r.order_id: (r.status, r.filled_size, r.total_fees, r.size, r.limit_price) for r in reports}
        taker = exchange.settings.fees.taker
        if self.user_orders is None:
            self.user_orders = states
            open_orders = [user_order(r, taker) for r in reports if not r.status.is_terminal]
            batches = [
                open_orders[i : i + USER_SNAPSHOT_BATCH]
                for i in range(0, len(open_orders), USER_SNAPSHOT_BATCH)
            ]
            if not batches or len(batches[-1]) == USER_SNAPSHOT_BATCH:
                batches.append([])  # a batch shorter than 50 ends the snapshot
            return [{"type": "snapshot", "orders": b, "positions": EMPTY_POSITIONS} for b in batches]
        changed = [
            user_order(r, taker) for r in reports if self.user_orders.get(r.order_id) != states[r.order_id]
        ]
        self.user_orders = states
        if not changed:
            return []
        return [{"type": "update", "orders": changed, "positions": EMPTY_POSITIONS}]

    # -- sending ---------------------------------------------------------------------------------
    async def _send(self, channel: str, events: list[wire.Json], now: float) -> None:
        envelope = {
            "channel": WIRE_CHANNEL.get(channel, channel),
            "client_id": "",
            "timestamp": wire.rfc3339(now),
            "sequence_num": self.sequence,
            "events": events,
        }
        self.sequence += 1
        faults = self.hub.faults
        if faults.drop > 0 and self.rng.random() < faults.drop:
            return  # lost on the way: the number is used up, the client sees the gap
        await self._send_raw(envelope)

    async def _send_raw(self, message: wire.Json) -> None:
        faults = self.hub.faults
        if faults.disconnect_after and self.sent >= faults.disconnect_after:
            log.info("ws fault: disconnecting after %d messages", self.sent)
            await self.ws.close(code=1011)
            raise _ClosedError
        await self.ws.send_text(json.dumps(message, separators=(",", ":")))
        self.sent += 1


def _levels(side: str, levels: Iterable[tuple[Decimal, Decimal]], stamp: str) -> list[wire.Json]:
    return [
        {"side": side, "event_time": stamp, "price_level": plain(price), "new_quantity": plain(size)}
        for price, size in levels
    ]


def _changes(
    side: str, before: dict[Decimal, Decimal], after: dict[Decimal, Decimal], stamp: str
) -> list[wire.Json]:
    gone = [(price, ZERO) for price in before if price not in after]
    moved = [(price, size) for price, size in after.items() if before.get(price) != size]
    return _levels(side, [*gone, *moved], stamp)


def _trade(t: PublicTrade) -> wire.Json:
    return {
        "trade_id": str(t.number),
        "product_id": t.product_id,
        "price": plain(t.price),
        "size": plain(t.size),
        "side": t.maker_side.value,
        "time": wire.rfc3339(t.time),
    }


def user_order(report: OrderReport, taker_fee: Decimal) -> wire.Json:
    """An order of the ``user`` channel (§6): every value a string."""
    remaining = report.size - report.filled_size
    is_buy = report.side.value == "BUY"
    hold = ZERO
    if not report.status.is_terminal:
        hold = remaining * report.limit_price * (1 + taker_fee) if is_buy else remaining
    after_fees = (
        report.filled_value + report.total_fees if is_buy else report.filled_value - report.total_fees
    )
    gtd = report.order_type is OrderType.POST_ONLY_GTD and report.end_time not in (None, float("inf"))
    return {
        "order_id": report.order_id,
        "client_order_id": report.client_order_id,
        "product_id": report.product_id,
        "order_side": report.side.value,
        "order_type": "Limit",
        "status": report.status.value,
        "time_in_force": (
            "IMMEDIATE_OR_CANCEL"
            if report.order_type is OrderType.LIMIT_IOC
            else "GOOD_UNTIL_DATE_TIME"
            if gtd
            else "GOOD_UNTIL_CANCELLED"
        ),
        "avg_price": plain(report.average_filled_price),
        "limit_price": plain(report.limit_price),
        "stop_price": "",
        "cumulative_quantity": plain(report.filled_size),
        "leaves_quantity": plain(remaining if not report.status.is_terminal else ZERO),
        "filled_value": plain(report.filled_value),
        "number_of_fills": "",
        "completion_percentage": plain(report.filled_size / report.size * 100),
        "total_fees": plain(report.total_fees),
        "total_value_after_fees": plain(after_fees),
        "outstanding_hold_amount": plain(hold),
        "post_only": "true" if report.order_type is OrderType.POST_ONLY_GTD else "false",
        "cancel_reason": "",
        "reject_reason": "",
        "creation_time": wire.rfc3339(report.created_time),
        "end_time": wire.rfc3339(report.end_time) if gtd and report.end_time is not None else wire.NO_TIME,
        "start_time": wire.NO_TIME,
        "trigger_status": "INVALID_ORDER_TYPE",
        "product_type": "SPOT",
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "retail_portfolio_id": wire.PORTFOLIO_ID,
    }
