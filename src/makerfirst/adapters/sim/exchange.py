"""The simulated exchange: Coinbase Advanced's order semantics over a matching engine.

It implements the exchange port in-process on an injected clock. What it reproduces:
price-time priority with our orders queued behind the size already at their price; post-only
orders that would cross rejected synchronously (``INVALID_LIMIT_PRICE_POST_ONLY``); GTD orders
expiring at ``end_time``; limit IOC filling what it can down to its limit and cancelling the
rest; partial fills; maker/taker fees in quote; increments, minimums and balances (with holds)
enforced; ``client_order_id`` idempotency; a one-way request latency during which the market
keeps moving; and an optional cancel queue during which a fill can still win the race.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum, StrEnum
from functools import partial
from itertools import islice
from typing import Any

from makerfirst.adapters.sim import world as w
from makerfirst.adapters.sim.driver import NEVER, MarketDriver, ReportsVolume
from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.clock import Clock
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.errors import OrderNotFoundError, ProductNotFoundError
from makerfirst.domain.lifecycle import transition
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import (
    CancelOutcome,
    CancelResult,
    FeeRates,
    Fill,
    Liquidity,
    OrderAccepted,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
)
from makerfirst.domain.product import Product

COINBASE_INTRO_FEES = FeeRates(maker=Decimal("0.006"), taker=Decimal("0.012"))
TAPE_LENGTH = 100_000  # public trades kept for feeds that read the tape (the sim-server's WebSocket)


class EditRefusal(StrEnum):
    """Why an edit was refused (Coinbase's ``edit_failure_reason``; the order is left as it was)."""

    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    NOT_OPEN = "ONLY_OPEN_ORDERS_CAN_BE_EDITED"
    NOT_GTC_LIMIT = "ONLY_LIMIT_ORDER_EDITS_SUPPORTED"
    BELOW_FILLED = "CANNOT_EDIT_TO_BELOW_FILLED_SIZE"
    INVALID_SIZE = "INVALID_EDITED_SIZE"
    INVALID_PRICE = "INVALID_EDITED_PRICE"
    UNCHANGED = "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST"
    POST_ONLY_WOULD_CROSS = "INVALID_LIMIT_PRICE_POST_ONLY"
    INSUFFICIENT_FUND = "INSUFFICIENT_FUND"


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One execution on the public tape. ``number`` counts every trade since the exchange began;
    ``maker_side`` is the resting order's side (what Coinbase's trade feeds call ``side``)."""

    number: int
    product_id: str
    price: Decimal
    size: Decimal
    maker_side: Side
    time: float


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """``request_latency_sec`` delays every request one way; ``cancel_queue_sec`` keeps an accepted
    cancel in ``CANCEL_QUEUED`` (still fillable) for that long."""

    fees: FeeRates = COINBASE_INTRO_FEES
    request_latency_sec: float = 0.05
    cancel_queue_sec: float = 0.02
    seed: int = 0


class _Timer(Enum):
    EXPIRE = "expire"
    FINISH_CANCEL = "finish_cancel"


@dataclass(slots=True)
class _SimOrder:
    order_id: str
    command: PlaceOrder
    created_time: float
    status: OrderStatus
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    total_fees: Decimal = ZERO
    hold_per_unit: Decimal = ZERO  # quote held per base unit (buys) or 1 base per unit (sells)

    def report(self) -> OrderReport:
        c = self.command
        return OrderReport(
            order_id=self.order_id,
            client_order_id=c.client_order_id,
            product_id=c.product_id,
            side=c.side,
            order_type=c.order_type,
            status=self.status,
            size=c.size,
            limit_price=c.limit_price,
            filled_size=self.filled_size,
            filled_value=self.filled_value,
            total_fees=self.total_fees,
            created_time=self.created_time,
            end_time=c.end_time,
        )


@dataclass(slots=True)
class _Venue:
    product: Product
    engine: MatchingEngine = field(default_factory=MatchingEngine)
    drivers: list[MarketDriver] = field(default_factory=list)

    def ticks(self, price: Decimal) -> int:
        return int(price / self.product.price_increment)

    def lots(self, size: Decimal) -> int:
        return int(size / self.product.base_increment)

    def price(self, ticks: int) -> Decimal:
        return ticks * self.product.price_increment

    def size(self, lots: int) -> Decimal:
        return lots * self.product.base_increment


class SimulatedExchange:
    """In-process exchange behind :class:`makerfirst.ports.ExchangePort`."""

    def __init__(
        self,
        clock: Clock,
        products: list[Product],
        balances: dict[str, Decimal],
        settings: SimulatorSettings | None = None,
    ) -> None:
        self._clock = clock
        self._settings = settings or SimulatorSettings()
        self._venues = {p.product_id: _Venue(p) for p in products}
        self._available: dict[str, Decimal] = dict(balances)
        self._held: dict[str, Decimal] = {}
        self._orders: dict[str, _SimOrder] = {}
        self._by_client: dict[str, str] = {}
        self._fills: list[Fill] = []
        self._trades: deque[tuple[float, str, Decimal]] = deque()  # (time, product, quote value), 24 h
        self._tape: deque[PublicTrade] = deque(maxlen=TAPE_LENGTH)
        self._tape_count = 0
        self._timers: list[tuple[float, int, _Timer, str]] = []
        self._timer_seq = 0
        self._rng = random.Random(self._settings.seed)
        self._time = clock.now()
        self._changed = False  # the world moved since ``on_change`` last heard of it
        self._on_change: Callable[[], None] | None = None

    # -- wiring ---------------------------------------------------------------------------------
    def attach_market(
        self, product_id: str, driver: MarketDriver, engine: MatchingEngine | None = None
    ) -> None:
        """Let ``driver`` move the product's market. ``engine`` replaces the product's book first
        (a replay brings its own, which knows the displayed size and our virtual queue position)."""
        venue = self._venue(product_id)
        if engine is not None:
            venue.engine = engine
        venue.drivers.append(driver)

    def engine(self, product_id: str) -> MatchingEngine:
        """The product's matching engine (for tests and market seeding)."""
        return self._venue(product_id).engine

    @property
    def settings(self) -> SimulatorSettings:
        return self._settings

    # -- the world, kept across restarts ----------------------------------------------------------
    def on_change(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` after every request that changed balances, orders or fills (paper
        trading saves the world there, so a crash loses at most the request in flight)."""
        self._on_change = callback

    def export_world(self) -> dict[str, Any]:
        """Balances, every order and fill, the pending timers, the time and the id generator:
        what :meth:`restore_world` needs to continue this venue. JSON-ready, money as strings."""
        mids = {}
        for product_id, venue in self._venues.items():
            bid, ask = venue.engine.best_bid(), venue.engine.best_ask()
            if bid is not None and ask is not None:
                mids[product_id] = format((venue.price(bid) + venue.price(ask)) / 2, "f")
        return {
            "version": w.WORLD_VERSION,
            "time": max(self._time, self._clock.now()),
            "available": w.money(self._available),
            "held": w.money(self._held),
            "orders": [w.order_json(_world_order(o)) for o in self._orders.values()],
            "fills": [w.fill_json(f) for f in self._fills],
            "timers": [[when, seq, kind.value, order_id] for when, seq, kind, order_id in self._timers],
            "timer_seq": self._timer_seq,
            "rng": w.rng_state_json(self._rng.getstate()),
            "mids": mids,
        }

    def restore_world(self, world: Mapping[str, Any]) -> None:
        """Continue the venue :meth:`export_world` described: its balances, orders, fills and
        timers replace this one's. Call it before the first request, markets attached: resting
        orders go back into their books ahead of the market's first quotes. Timers that fell due
        while the venue was away (a GTD order's end) fire on the first request."""
        try:
            self._restore(world)
        except w.UNREADABLE as broken:
            raise w.unreadable(broken) from None

    def _restore(self, world: Mapping[str, Any]) -> None:
        w.check_version(world)
        orders = [w.order_of(d) for d in world["orders"]]
        unknown = sorted({o.command.product_id for o in orders} - set(self._venues))
        if unknown:
            raise ProductNotFoundError(
                f"the stored paper world has orders on {', '.join(unknown)}, which this catalogue"
                " lacks: pass the --products-file it was made with, or another --db"
            )
        self._available = w.amounts(world["available"])
        self._held = w.amounts(world["held"])
        self._orders = {o.order_id: _SimOrder(**_fields(o)) for o in orders}
        self._by_client = {o.command.client_order_id: o.order_id for o in orders}
        self._fills = [w.fill_of(d) for d in world["fills"]]
        self._timers = [(float(t[0]), int(t[1]), _Timer(t[2]), str(t[3])) for t in world["timers"]]
        heapq.heapify(self._timers)
        self._timer_seq = int(world["timer_seq"])
        self._rng.setstate(w.rng_state_of(world["rng"]))
        self._time = min(float(world["time"]), self._clock.now())
        for order in self._orders.values():
            c = order.command
            if c.order_type is OrderType.POST_ONLY_GTD and not order.status.is_terminal:
                venue = self._venues[c.product_id]
                lots = venue.lots(c.size - order.filled_size)
                venue.engine.submit(
                    order.order_id, c.side, venue.ticks(c.limit_price), lots, ours=True, rest=True
                )

    # -- the port ---------------------------------------------------------------------------------
    async def get_product(self, product_id: str) -> Product:
        await self._request()
        return self._venue(product_id).product

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook:
        await self._request()
        return self.book_now(product_id, depth)

    async def get_balances(self) -> dict[str, Decimal]:
        await self._request()
        return dict(self._available)

    async def get_balance_sheet(self) -> dict[str, Balance]:
        await self._request()
        return self.balance_sheet_now()

    async def get_fee_rates(self) -> FeeRates:
        await self._request()
        return self._settings.fees

    async def get_volume_24h(self, product_id: str) -> Decimal:
        await self._request()
        return self.volume_24h_now(product_id)

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected:
        await self._request()
        known = self._by_client.get(command.client_order_id)
        if known is not None:  # Coinbase answers a reused client id with the original order
            return OrderAccepted(known, command.client_order_id)
        venue = self._venues.get(command.product_id)
        if venue is None:
            return OrderRejected(command.client_order_id, RejectReason.INVALID_PRODUCT_ID, command.product_id)
        reason = self._validate(venue, command)
        if reason is not None:
            return OrderRejected(command.client_order_id, reason)
        order = self._open(venue, command)
        is_gtd = command.order_type is OrderType.POST_ONLY_GTD
        matches = venue.engine.submit(
            order.order_id,
            command.side,
            venue.ticks(command.limit_price),
            venue.lots(command.size),
            ours=True,
            rest=is_gtd,
        )
        self._settle(venue, matches)
        if is_gtd:
            assert command.end_time is not None  # validated above
            self._schedule(command.end_time, _Timer.EXPIRE, order.order_id)
        elif not order.status.is_terminal:
            self._finish(order, OrderStatus.CANCELLED)  # IOC: what did not fill is cancelled
        self._publish()
        return OrderAccepted(order.order_id, command.client_order_id)

    async def edit_order(self, order_id: str, limit_price: Decimal, size: Decimal) -> EditRefusal | None:
        """Give a resting GTC order a new price and size (None: done). The order keeps its id and
        fills; it goes to the back of its new level's queue, even when only its size shrank (Coinbase
        keeps priority then: the simulator is the conservative side of that)."""
        await self._request()
        refusal = self._edit_refusal(order_id, limit_price, size)
        if refusal is not None:
            return refusal
        order = self._orders[order_id]
        venue = self._venues[order.command.product_id]
        edited = replace(order.command, limit_price=limit_price, size=size)
        currency, needed = self._hold_needed(venue.product, replace(edited, size=size - order.filled_size))
        held_now = (order.command.size - order.filled_size) * order.hold_per_unit
        venue.engine.cancel(order_id)
        self._held[currency] += needed - held_now
        self._available[currency] -= needed - held_now
        order.command = edited
        order.hold_per_unit = needed / (size - order.filled_size)
        left = venue.lots(size - order.filled_size)
        venue.engine.submit(order_id, edited.side, venue.ticks(limit_price), left, ours=True, rest=True)
        self._changed = True
        self._publish()
        return None

    def _edit_refusal(self, order_id: str, limit_price: Decimal, size: Decimal) -> EditRefusal | None:
        order = self._orders.get(order_id)
        if order is None:
            return EditRefusal.ORDER_NOT_FOUND
        c, venue = order.command, self._venues[order.command.product_id]
        if order.status is not OrderStatus.OPEN:
            return EditRefusal.NOT_OPEN
        if c.order_type is not OrderType.POST_ONLY_GTD or c.end_time is None or c.end_time != math.inf:
            return EditRefusal.NOT_GTC_LIMIT
        if size <= ZERO or not venue.product.on_lot(size):
            return EditRefusal.INVALID_SIZE
        if limit_price <= ZERO or not venue.product.on_tick(limit_price):
            return EditRefusal.INVALID_PRICE
        if size <= order.filled_size:
            return EditRefusal.BELOW_FILLED
        if (limit_price, size) == (c.limit_price, c.size):
            return EditRefusal.UNCHANGED
        # Only the other side can be crossed, and our order rests on its own side: no need to lift it.
        if venue.engine.would_cross(c.side, venue.ticks(limit_price)):
            return EditRefusal.POST_ONLY_WOULD_CROSS
        rest = replace(c, limit_price=limit_price, size=size - order.filled_size)
        currency, needed = self._hold_needed(venue.product, rest)
        held_now = (c.size - order.filled_size) * order.hold_per_unit
        if self._available.get(currency, ZERO) < needed - held_now:
            return EditRefusal.INSUFFICIENT_FUND
        return None

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        await self._request()
        results = [self._cancel(order_id) for order_id in order_ids]
        self._publish()
        return results

    async def get_order(self, order_id: str) -> OrderReport:
        await self._request()
        return self._order(order_id).report()

    async def list_fills(self, order_id: str) -> list[Fill]:
        await self._request()
        return [f for f in self._fills if f.order_id == order_id]

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        await self._request()
        return [
            o.report()
            for o in self._orders.values()
            if not o.status.is_terminal and product_id in (None, o.command.product_id)
        ]

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        await self._request()
        order_id = self._by_client.get(client_order_id)
        return None if order_id is None else self._orders[order_id].report()

    # -- views without a request (audit, tests, the simulation's own reports) -------------------
    def book_now(self, product_id: str, depth: int = 50) -> OrderBook:
        venue = self._venue(product_id)
        return OrderBook(
            product_id=product_id,
            bids=tuple(Level(venue.price(p), venue.size(n)) for p, n in venue.engine.levels(Side.BUY, depth)),
            asks=tuple(
                Level(venue.price(p), venue.size(n)) for p, n in venue.engine.levels(Side.SELL, depth)
            ),
            timestamp=self._time,
        )

    def volume_24h_now(self, product_id: str) -> Decimal:
        """The drivers' own 24 h volume where they know it, else what traded here in the last 24 h."""
        venue = self._venue(product_id)
        reported = [d.volume_24h_quote() for d in venue.drivers if isinstance(d, ReportsVolume)]
        if reported:
            return sum(reported, start=ZERO)
        since = self._time - 86_400
        return sum(
            (value for when, pid, value in self._trades if pid == product_id and when >= since), start=ZERO
        )

    def all_orders(self) -> list[OrderReport]:
        return [o.report() for o in self._orders.values()]

    def all_fills(self) -> list[Fill]:
        return list(self._fills)

    def trades_since(self, number: int) -> list[PublicTrade]:
        """Public trades numbered ``number`` or later that the tape still holds, oldest first."""
        wanted = min(len(self._tape), max(0, self._tape_count - number))
        # From the newest end: a reader that keeps up costs what it reads, not the tape's length.
        return list(islice(reversed(self._tape), wanted))[::-1]

    @property
    def trade_count(self) -> int:
        """How many public trades there have been: the number the next one will get."""
        return self._tape_count

    def balance_sheet_now(self) -> dict[str, Balance]:
        currencies = set(self._available) | set(self._held)
        return {c: Balance(self._available.get(c, ZERO), self._held.get(c, ZERO)) for c in sorted(currencies)}

    def held(self) -> dict[str, Decimal]:
        return {k: v for k, v in self._held.items() if v != ZERO}

    def advance(self) -> None:
        """Run the market and the exchange's timers up to the clock's now."""
        now = self._clock.now()
        while True:
            when, act = self._next_event()
            if when > now:
                break
            self._time = when
            act()
        self._time = now
        self._publish()

    # -- internals --------------------------------------------------------------------------------
    def _publish(self) -> None:
        if self._changed and self._on_change is not None:
            self._changed = False
            self._on_change()

    async def _request(self) -> None:
        """The request travels for ``request_latency_sec`` while the market moves, then is served."""
        latency = self._settings.request_latency_sec
        if latency > 0:
            await self._clock.sleep_until(self._clock.now() + latency)
        self.advance()

    def _venue(self, product_id: str) -> _Venue:
        try:
            return self._venues[product_id]
        except KeyError:
            raise ProductNotFoundError(f"unknown product {product_id!r}") from None

    def _order(self, order_id: str) -> _SimOrder:
        try:
            return self._orders[order_id]
        except KeyError:
            raise OrderNotFoundError(f"order with this orderID was not found: {order_id}") from None

    def _next_event(self) -> tuple[float, Callable[[], None]]:
        best_time, best_act = NEVER, _idle
        for venue in self._venues.values():
            for driver in venue.drivers:
                when = driver.next_time()
                if when < best_time:
                    best_time, best_act = when, partial(self._step_driver, venue, driver)
        if self._timers and self._timers[0][0] < best_time:
            best_time, best_act = self._timers[0][0], self._pop_timer
        return best_time, best_act

    def _step_driver(self, venue: _Venue, driver: MarketDriver) -> None:
        self._settle(venue, driver.step(venue.engine))

    def _pop_timer(self) -> None:
        _, _, kind, order_id = heapq.heappop(self._timers)
        order = self._orders[order_id]
        if order.status.is_terminal:
            return
        self._venues[order.command.product_id].engine.cancel(order_id)
        self._finish(order, OrderStatus.EXPIRED if kind is _Timer.EXPIRE else OrderStatus.CANCELLED)

    def _schedule(self, when: float, kind: _Timer, order_id: str) -> None:
        self._changed = True
        self._timer_seq += 1
        heapq.heappush(self._timers, (when, self._timer_seq, kind, order_id))

    def _validate(self, venue: _Venue, c: PlaceOrder) -> RejectReason | None:
        p = venue.product
        if p.trading_disabled:
            return RejectReason.TRADING_DISABLED
        if c.order_type is OrderType.POST_ONLY_GTD:
            if c.end_time is None:
                return RejectReason.GTD_WITHOUT_END_TIME
            if c.end_time <= self._time:
                return RejectReason.END_TIME_IN_PAST
        if not p.on_lot(c.size) or c.size <= ZERO:
            return RejectReason.INVALID_SIZE_PRECISION
        if not p.on_tick(c.limit_price) or c.limit_price <= ZERO:
            return RejectReason.INVALID_PRICE_PRECISION
        if c.size < p.base_min_size:
            return RejectReason.SIZE_TOO_SMALL
        if c.size * c.limit_price < p.quote_min_size:
            return RejectReason.NOTIONAL_TOO_SMALL
        currency, needed = self._hold_needed(p, c)
        if self._available.get(currency, ZERO) < needed:
            return RejectReason.INSUFFICIENT_FUND
        if c.post_only and venue.engine.would_cross(c.side, venue.ticks(c.limit_price)):
            return RejectReason.POST_ONLY_WOULD_CROSS
        return None

    def _hold_needed(self, p: Product, c: PlaceOrder) -> tuple[str, Decimal]:
        if c.side is Side.SELL:
            return p.base_currency, c.size
        return p.quote_currency, c.size * c.limit_price * (1 + self._settings.fees.taker)

    def _open(self, venue: _Venue, command: PlaceOrder) -> _SimOrder:
        self._changed = True
        order_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        currency, needed = self._hold_needed(venue.product, command)
        self._available[currency] -= needed
        self._held[currency] = self._held.get(currency, ZERO) + needed
        order = _SimOrder(
            order_id=order_id,
            command=command,
            created_time=self._time,
            status=OrderStatus.OPEN,
            hold_per_unit=needed / command.size,
        )
        self._orders[order_id] = order
        self._by_client[command.client_order_id] = order_id
        return order

    def _cancel(self, order_id: str) -> CancelResult:
        order = self._orders.get(order_id)
        if order is None:
            return CancelResult(order_id, CancelOutcome.UNKNOWN_ORDER)
        if order.status is OrderStatus.FILLED:
            return CancelResult(order_id, CancelOutcome.ALREADY_FILLED)
        if order.status.is_terminal or order.status is OrderStatus.CANCEL_QUEUED:
            return CancelResult(order_id, CancelOutcome.ALREADY_DONE)
        self._changed = True
        delay = self._settings.cancel_queue_sec
        if delay > 0:
            order.status = transition(order.status, OrderStatus.CANCEL_QUEUED)
            self._schedule(self._time + delay, _Timer.FINISH_CANCEL, order_id)
        else:
            self._venues[order.command.product_id].engine.cancel(order_id)
            self._finish(order, OrderStatus.CANCELLED)
        return CancelResult(order_id, CancelOutcome.ACCEPTED)

    def _settle(self, venue: _Venue, matches: list[Match]) -> None:
        for m in matches:
            price, size = venue.price(m.price), venue.size(m.lots)
            self._trades.append((self._time, venue.product.product_id, price * size))
            maker_side = Side.SELL if m.taker_side is Side.BUY else Side.BUY
            self._tape.append(
                PublicTrade(self._tape_count, venue.product.product_id, price, size, maker_side, self._time)
            )
            self._tape_count += 1
            while self._trades and self._trades[0][0] < self._time - 86_400:
                self._trades.popleft()
            if m.maker_is_ours:
                self._fill(venue, self._orders[m.maker_order_id], m, Liquidity.MAKER)
            if m.taker_is_ours:
                self._fill(venue, self._orders[m.taker_order_id], m, Liquidity.TAKER)

    def _fill(self, venue: _Venue, order: _SimOrder, m: Match, liquidity: Liquidity) -> None:
        self._changed = True
        p, c = venue.product, order.command
        price, size = venue.price(m.price), venue.size(m.lots)
        value = price * size
        rate = self._settings.fees.maker if liquidity is Liquidity.MAKER else self._settings.fees.taker
        fee = value * rate
        order.filled_size += size
        order.filled_value += value
        order.total_fees += fee
        released = size * order.hold_per_unit
        if c.side is Side.SELL:
            self._held[p.base_currency] -= released
            self._credit(p.quote_currency, value - fee)
        else:
            self._held[p.quote_currency] -= released
            self._credit(p.quote_currency, released - value - fee)
            self._credit(p.base_currency, size)
        trade_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._fills.append(
            Fill(trade_id, order.order_id, p.product_id, c.side, price, size, fee, liquidity, self._time)
        )
        if order.filled_size == c.size:
            order.status = transition(order.status, OrderStatus.FILLED)

    def _finish(self, order: _SimOrder, status: OrderStatus) -> None:
        """Move an order to a terminal status and release what it still holds."""
        self._changed = True
        order.status = transition(order.status, status)
        c = order.command
        product = self._venues[c.product_id].product
        currency = product.base_currency if c.side is Side.SELL else product.quote_currency
        leftover = (c.size - order.filled_size) * order.hold_per_unit
        self._held[currency] -= leftover
        self._credit(currency, leftover)

    def _credit(self, currency: str, amount: Decimal) -> None:
        self._available[currency] = self._available.get(currency, ZERO) + amount


def _world_order(o: _SimOrder) -> w.WorldOrder:
    return w.WorldOrder(**_fields(o))


def _fields(o: _SimOrder | w.WorldOrder) -> dict[str, Any]:
    return {
        "order_id": o.order_id,
        "command": o.command,
        "created_time": o.created_time,
        "status": o.status,
        "filled_size": o.filled_size,
        "filled_value": o.filled_value,
        "total_fees": o.total_fees,
        "hold_per_unit": o.hold_per_unit,
    }


def _idle() -> None:  # pragma: no cover - only paired with time NEVER, never called
    return None
