"""The exchange port with Coinbase's WebSocket feed in front of REST.

:class:`StreamingExchange` wraps the REST adapter (``rest``, any :class:`ExchangePort`) and a
:class:`CoinbaseFeed`. REST is asked only what the stream cannot tell:

* ``get_order_book``: the feed's book while it is in sync and fresh (``as_of``: the feed's last
  message); else one REST read (``as_of``: now). If that read fails too, the last book the feed
  had in sync is returned with its old ``as_of``, and the liquidity guard refuses new orders on
  it (``guards.max_book_age_sec``); with no book at all the REST error propagates.
* ``get_order`` for an order *this process placed*: the ``user`` channel's state while the channel
  is live. Not reported yet: it was accepted moments ago, so it is ``PENDING`` (no REST) for
  ``UNREPORTED_GRACE_SEC`` after its placement, when placed after the channel's current snapshot
  (one placed before a resync may have ended while the channel was down: REST). A terminal state
  from the channel is the terminal report (a cancel is confirmed by the stream); a cancelled order
  still live on the channel ``CANCEL_REST_AFTER_SEC`` after its cancel is read from REST (the
  timeout path). Every other order (reconciliation after a restart, an order the stream never saw)
  and every read while the channel is not live: REST, the source of truth.
* ``wait_order_update``: wakes the engine when the ``user`` channel reports the order
  (:class:`makerfirst.ports.OrderUpdates`), so a fill is acted on when it arrives, not a poll later.
* Placing, cancelling (several ids in one ``batch_cancel``), fills (the engine reads them once,
  for a terminal order the stream says has filled), balances, open orders and lookups by client
  id: REST. The fee tier is read once per ``FEE_RATES_TTL_SEC``.
* Counting: ``answered_by_stream`` (books and order states the stream answered) and
  ``meter_rest`` (a meter in front of REST) are :class:`makerfirst.ports.FrontsRest`, so the
  runner's cycle counts the requests that went over the wire, not the port calls.

The feed starts on the first call made on a running loop; :meth:`StreamingExchange.close` stops it
and closes the REST adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed
from makerfirst.clock import Clock
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import OrderBook
from makerfirst.domain.errors import ExchangeError
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import (
    CancelResult,
    FeeRates,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderReport,
    OrderStatus,
    PlaceOrder,
)
from makerfirst.domain.product import Product
from makerfirst.ports import ExchangePort

log = logging.getLogger("makerfirst.adapters.coinbase_stream")

UNREPORTED_GRACE_SEC = 2.0  # the user channel reports a new order within milliseconds; past this, ask REST
CANCEL_REST_AFTER_SEC = 2.0  # a cancel the channel has not shown terminal by then is read from REST
FEE_RATES_TTL_SEC = 300.0  # the fee tier moves with 30-day volume: minutes old is current


@dataclass(frozen=True, slots=True)
class _Placed:
    command: PlaceOrder
    order_id: str
    at: float


class StreamingExchange:
    """See the module docs. Counters say where answers came from (the bench and tests read them)."""

    def __init__(
        self, rest: ExchangePort, feed: CoinbaseFeed, clock: Clock, *, close_rest: bool = True
    ) -> None:
        self.rest = rest
        self._unmetered = rest  # what ``close`` closes, whatever ``meter_rest`` put in front of it
        self.feed = feed
        self._clock = clock
        self._close_rest = close_rest
        self._placed: dict[str, _Placed] = {}
        self._cancelled_at: dict[str, float] = {}
        self._fees: tuple[float, FeeRates] | None = None
        self.books_from_feed = 0
        self.books_from_rest = 0
        self.stale_books = 0
        self.orders_from_feed = 0
        self.orders_from_rest = 0

    @property
    def answered_by_stream(self) -> int:
        """Books and order states the stream answered without a request (``ports.FrontsRest``)."""
        return self.books_from_feed + self.orders_from_feed

    def meter_rest(self, wrap: Callable[[ExchangePort], ExchangePort]) -> None:
        """Every REST call through ``wrap(rest)`` from now on (``ports.FrontsRest``): a meter
        there counts the requests that went over the wire."""
        self.rest = wrap(self._unmetered)

    async def close(self) -> None:
        await self.feed.close()
        if self._close_rest:
            close = getattr(self._unmetered, "close", None)
            if close is not None:
                await close()

    def _running(self) -> None:
        self.feed.start()  # on the caller's loop, the first time

    async def get_product(self, product_id: str) -> Product:
        return await self.rest.get_product(product_id)

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook:
        self._running()
        book = self.feed.book(product_id, depth)
        if book is not None and book.bids and book.asks:
            self.books_from_feed += 1
            return book
        await self.feed.watch(product_id)
        try:
            fetched = await self.rest.get_order_book(product_id, depth)
        except ExchangeError as failed:
            last = self.feed.last_book(product_id, depth)
            if last is None:
                raise
            self.stale_books += 1
            log.warning(
                "%s: the stream is out of sync and REST failed (%s); the last streamed book is %.1fs old",
                product_id,
                type(failed).__name__,
                last.age_sec(self._clock.now()),
                extra={"event": "stale_book", "product_id": product_id},
            )
            return last
        self.books_from_rest += 1
        return replace(fetched, as_of=self._clock.now())

    async def get_balances(self) -> dict[str, Decimal]:
        self._running()
        return await self.rest.get_balances()

    async def get_balance_sheet(self) -> dict[str, Balance]:
        self._running()
        return await self.rest.get_balance_sheet()

    async def get_fee_rates(self) -> FeeRates:
        now = self._clock.now()
        if self._fees is None or now - self._fees[0] > FEE_RATES_TTL_SEC:
            self._fees = (now, await self.rest.get_fee_rates())
        return self._fees[1]

    async def get_volume_24h(self, product_id: str) -> Decimal:
        return await self.rest.get_volume_24h(product_id)

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected:
        self._running()
        outcome = await self.rest.place_order(command)
        if isinstance(outcome, OrderAccepted):
            self.feed.expect(outcome.order_id, command.size)
            self._placed[outcome.order_id] = _Placed(command, outcome.order_id, self._clock.now())
        return outcome

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        now = self._clock.now()
        for order_id in order_ids:
            self._cancelled_at.setdefault(order_id, now)
        return await self.rest.cancel_orders(order_ids)

    async def get_order(self, order_id: str) -> OrderReport:
        self._running()
        streamed = self._from_stream(order_id)
        if streamed is not None:
            self.orders_from_feed += 1
            if streamed.status.is_terminal:
                self._done(order_id)
            return streamed
        self.orders_from_rest += 1
        report = await self.rest.get_order(order_id)
        if report.status.is_terminal:
            self._done(order_id)
        return report

    def _from_stream(self, order_id: str) -> OrderReport | None:
        """The order as the ``user`` channel says it is, when that is the truth (module docs)."""
        placed = self._placed.get(order_id)
        since = self.feed.user_since
        if placed is None or since is None or not self.feed.user_live:
            return None
        now = self._clock.now()
        streamed = self.feed.order(order_id)
        if streamed is None:
            if placed.at < since or now - placed.at > UNREPORTED_GRACE_SEC:
                return None
            return _pending(placed)
        cancelled = self._cancelled_at.get(order_id)
        if (
            not streamed.status.is_terminal
            and cancelled is not None
            and now - cancelled > CANCEL_REST_AFTER_SEC
        ):
            return None
        return replace(streamed, order_type=placed.command.order_type)

    def _done(self, order_id: str) -> None:
        self._placed.pop(order_id, None)
        self._cancelled_at.pop(order_id, None)

    async def list_fills(self, order_id: str) -> list[Fill]:
        return await self.rest.list_fills(order_id)

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        self._running()
        return await self.rest.list_open_orders(product_id)

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        return await self.rest.find_order_by_client_id(client_order_id)

    async def wait_order_update(self, order_id: str, until: float) -> None:
        self._running()
        await self.feed.wait_order_update(order_id, until)


def _pending(placed: _Placed) -> OrderReport:
    """An order the venue accepted that the ``user`` channel has not reported yet."""
    command = placed.command
    return OrderReport(
        order_id=placed.order_id,
        client_order_id=command.client_order_id,
        product_id=command.product_id,
        side=command.side,
        order_type=command.order_type,
        status=OrderStatus.PENDING,
        size=command.size,
        limit_price=command.limit_price,
        filled_size=ZERO,
        filled_value=ZERO,
        total_fees=ZERO,
        created_time=placed.at,
        end_time=command.end_time,
    )
