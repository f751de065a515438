"""An exchange port wrapper that counts the requests sent to the venue and the time spent waiting
on them."""

from __future__ import annotations

from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

from makerfirst.clock import Clock
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import OrderBook
from makerfirst.domain.orders import (
    CancelResult,
    FeeRates,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderReport,
    PlaceOrder,
)
from makerfirst.domain.product import Product
from makerfirst.ports import ExchangePort, FrontsRest, OrderUpdates

T = TypeVar("T")


class RequestMeter:
    """``requests`` counts requests and ``busy_sec`` the time (on the injected clock) during which
    at least one was outstanding: the union of their intervals, so concurrent requests are not
    counted twice. Both accumulate until ``reset``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.requests = 0
        self._busy = 0.0
        self._in_flight = 0
        self._busy_since = 0.0

    @property
    def busy_sec(self) -> float:
        ongoing = self._clock.now() - self._busy_since if self._in_flight else 0.0
        return self._busy + ongoing

    def reset(self) -> None:
        self.requests, self._busy = 0, 0.0
        if self._in_flight:
            self._busy_since = self._clock.now()

    async def timed(self, call: Awaitable[T]) -> T:
        if self._in_flight == 0:
            self._busy_since = self._clock.now()
        self._in_flight += 1
        self.requests += 1
        try:
            return await call
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._busy += self._clock.now() - self._busy_since


class MeteredExchange:
    """Implements :class:`ExchangePort` by delegation, metering the requests that go to the venue:
    ``requests`` and ``busy_sec`` (:class:`RequestMeter`) until ``reset``; a cycle's share of
    time with a request in flight is ``busy_sec`` over its length.

    A polling venue: every call is a request. A venue that answers some calls from a stream
    (:class:`makerfirst.ports.FrontsRest`): the meter sits between it and its REST venue, so only
    what goes over the wire is counted and timed, and ``answered_by_stream`` counts the calls the
    stream answered since ``reset`` (None for a venue without a stream)."""

    def __init__(self, inner: ExchangePort, clock: Clock, meter: RequestMeter | None = None) -> None:
        self._inner = inner
        self._clock = clock
        self._meter = meter or RequestMeter(clock)
        self._stream: FrontsRest | None = None
        self._streamed_before = 0
        if isinstance(inner, FrontsRest):
            self._stream = inner
            self._streamed_before = inner.answered_by_stream
            inner.meter_rest(lambda rest: MeteredExchange(rest, clock, self._meter))

    @property
    def requests(self) -> int:
        return self._meter.requests

    @property
    def busy_sec(self) -> float:
        return self._meter.busy_sec

    @property
    def answered_by_stream(self) -> int | None:
        if self._stream is None:
            return None
        return self._stream.answered_by_stream - self._streamed_before

    def reset(self) -> None:
        self._meter.reset()
        if self._stream is not None:
            self._streamed_before = self._stream.answered_by_stream

    async def _call(self, call: Awaitable[T]) -> T:
        if self._stream is not None:
            return await call  # metered behind the stream, where it goes over the wire
        return await self._meter.timed(call)

    async def get_product(self, product_id: str) -> Product:
        return await self._call(self._inner.get_product(product_id))

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook:
        return await self._call(self._inner.get_order_book(product_id, depth))

    async def get_balances(self) -> dict[str, Decimal]:
        return await self._call(self._inner.get_balances())

    async def get_balance_sheet(self) -> dict[str, Balance]:
        return await self._call(self._inner.get_balance_sheet())

    async def get_fee_rates(self) -> FeeRates:
        return await self._call(self._inner.get_fee_rates())

    async def get_volume_24h(self, product_id: str) -> Decimal:
        return await self._call(self._inner.get_volume_24h(product_id))

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected:
        return await self._call(self._inner.place_order(command))

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        return await self._call(self._inner.cancel_orders(order_ids))

    async def get_order(self, order_id: str) -> OrderReport:
        return await self._call(self._inner.get_order(order_id))

    async def list_fills(self, order_id: str) -> list[Fill]:
        return await self._call(self._inner.list_fills(order_id))

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        return await self._call(self._inner.list_open_orders(product_id))

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        return await self._call(self._inner.find_order_by_client_id(client_order_id))

    async def wait_order_update(self, order_id: str, until: float) -> None:
        """The inner venue's push wake-up (``OrderUpdates``), else a plain sleep: waiting is not a
        request, so it is neither counted nor timed."""
        if isinstance(self._inner, OrderUpdates):
            await self._inner.wait_order_update(order_id, until)
        else:
            await self._clock.sleep_until(until)
