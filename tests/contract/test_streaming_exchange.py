"""The streaming adapter against the sim-server: books from level2, orders from user, REST as fallback.

Real parts: the sim-server on 127.0.0.1 (its WebSocket feed and REST API), the ccxt adapter for
REST, the feed client on the system clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from makerfirst.adapters.ccxt_exchange.credentials import load_credentials
from makerfirst.adapters.ccxt_exchange.exchange import CcxtExchange
from makerfirst.adapters.coinbase_stream.exchange import StreamingExchange
from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.clock import SystemClock
from makerfirst.domain.orders import OrderAccepted, OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.ports import OrderUpdates

PRODUCT = "ZK-USD"


@asynccontextmanager
async def streaming(server: ServerHandle, products: list[str]) -> AsyncIterator[StreamingExchange]:
    clock = SystemClock()
    credentials = load_credentials(server.credentials_path)
    feed = CoinbaseFeed(clock=clock, products=products, credentials=credentials, ws_url=server.ws_url)
    async with CcxtExchange(clock=clock, api_url=server.url, credentials=credentials, timeout_sec=5) as rest:
        exchange = StreamingExchange(rest, feed, clock)
        feed.start()
        try:
            yield exchange
        finally:
            await exchange.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def _levels(book: object) -> object:
    return (book.bids, book.asks)  # type: ignore[attr-defined]


def test_books_come_from_the_feed_and_match_the_servers() -> None:
    async def scenario(server: ServerHandle) -> None:
        async with streaming(server, [PRODUCT]) as exchange:
            first = await exchange.get_order_book(PRODUCT)  # before the snapshot: REST
            assert first.bids and first.asks

            async def same_as_server() -> bool:
                if exchange.feed.book(PRODUCT, 1_000) is None:
                    return False
                with server.session() as sim:
                    truth = sim.book_now(PRODUCT, 50)
                streamed = await exchange.get_order_book(PRODUCT, 50)
                return _levels(streamed) == _levels(truth)

            await eventually(same_as_server)
            assert exchange.books_from_feed >= 1

    with running_server(market="dead", balances={"USD": "1"}) as server:
        asyncio.run(scenario(server))


def test_a_sequence_gap_resyncs_and_the_book_is_right_again() -> None:
    async def scenario(server: ServerHandle) -> None:
        async with streaming(server, ["BTC-USD"]) as exchange:
            await eventually(lambda: _true(exchange.feed.gaps >= 1))
            await eventually(lambda: _true(exchange.feed.book("BTC-USD") is not None))
            book = exchange.feed.book("BTC-USD", 5)
            assert book is not None and book.best_bid < book.best_ask

    faults = FeedFaults(drop=0.2, seed=3)
    with running_server(market="liquid", balances={"USD": "1"}, feed_faults=faults) as server:
        asyncio.run(scenario(server))


def test_a_dropped_connection_falls_back_to_rest_and_reconnects() -> None:
    async def scenario(server: ServerHandle) -> None:
        async with streaming(server, [PRODUCT]) as exchange:
            await eventually(lambda: _true(exchange.feed.connections >= 2), timeout=15)
            book = await exchange.get_order_book(PRODUCT)
            assert book.bids and book.asks
            assert exchange.books_from_rest >= 1

    cut = FeedFaults(disconnect_after=4)
    with running_server(market="dead", balances={"USD": "1"}, feed_faults=cut) as server:
        asyncio.run(scenario(server))


async def _true(value: bool) -> bool:
    return value


def test_order_updates_wake_the_waiter_and_the_stream_confirms_the_cancel() -> None:
    async def scenario(server: ServerHandle) -> None:
        async with streaming(server, [PRODUCT]) as exchange:
            assert isinstance(exchange, OrderUpdates)
            await eventually(lambda: _true(exchange.feed.order("none") is None and exchange.feed.fresh))
            book = await exchange.get_order_book(PRODUCT)
            price = book.best_ask + Decimal("0.001")
            end = time.time() + 60
            placed = await exchange.place_order(
                PlaceOrder("stream-1", PRODUCT, Side.SELL, OrderType.POST_ONLY_GTD, Decimal(100), price, end)
            )
            assert isinstance(placed, OrderAccepted)
            await eventually(lambda: _true(exchange.feed.order(placed.order_id) is not None))
            live = await exchange.get_order(placed.order_id)
            assert (live.status, live.size, live.limit_price) == (OrderStatus.OPEN, Decimal(100), price)
            assert exchange.orders_from_feed == 1

            started = time.monotonic()
            waiter = asyncio.ensure_future(exchange.wait_order_update(placed.order_id, time.time() + 30))
            await asyncio.sleep(0.1)
            await exchange.cancel_orders([placed.order_id])
            await waiter
            assert time.monotonic() - started < 5  # woken by the user channel, not the 30 s deadline

            # The first change may be CANCEL_QUEUED (a live status, read from the feed); then CANCELLED.
            async def cancelled() -> bool:
                final = await exchange.get_order(placed.order_id)
                return final.status is OrderStatus.CANCELLED

            await eventually(cancelled)
            assert exchange.orders_from_rest == 0  # the cancel is confirmed by the stream, no REST read
            streamed = await exchange.get_order(placed.order_id)  # finished: now REST answers
            truth = await exchange.rest.get_order(placed.order_id)
            assert exchange.orders_from_rest == 1
            assert (streamed.status, streamed.size, streamed.filled_size, streamed.limit_price) == (
                truth.status,
                truth.size,
                truth.filled_size,
                truth.limit_price,
            )

    with running_server(market="dead", balances={"ZK": "1000", "USD": "1"}) as server:
        asyncio.run(scenario(server))


def test_bootstrap_builds_the_streaming_venue_and_the_live_guard_judges_the_feed_host() -> None:
    from makerfirst.adapters.ccxt_exchange.endpoints import LiveTradingNotConfirmedError  # noqa: PLC0415
    from makerfirst.bootstrap import build_streaming_exchange  # noqa: PLC0415

    async def scenario(server: ServerHandle) -> None:
        clock = SystemClock()
        keys = load_credentials(server.credentials_path)
        async with CcxtExchange(clock=clock, api_url=server.url, credentials=keys, timeout_sec=5) as rest:
            with pytest.raises(LiveTradingNotConfirmedError, match=r"advanced-trade-ws\.coinbase\.com"):
                build_streaming_exchange(
                    rest, "wss://advanced-trade-ws.coinbase.com", server.credentials_path, clock, [PRODUCT]
                )
            venue = build_streaming_exchange(rest, server.ws_url, server.credentials_path, clock, [PRODUCT])
            assert isinstance(venue, StreamingExchange)
            assert not venue.feed.running  # built outside a loop's work: it starts on first use
            await venue.get_order_book(PRODUCT)
            await eventually(lambda: _true(venue.feed.book(PRODUCT) is not None))
            await venue.close()
            assert not venue.feed.running

    with running_server(market="dead", balances={"USD": "1"}) as server:
        asyncio.run(scenario(server))


def test_the_runners_meter_counts_what_went_over_rest_not_what_the_stream_answered() -> None:
    from makerfirst.runner.metered import MeteredExchange  # noqa: PLC0415

    async def scenario(server: ServerHandle) -> None:
        async with streaming(server, [PRODUCT]) as exchange:
            metered = MeteredExchange(exchange, SystemClock())
            await eventually(lambda: _true(exchange.feed.book(PRODUCT, 50) is not None))
            metered.reset()
            for _ in range(5):
                await metered.get_order_book(PRODUCT)
            assert (metered.requests, metered.busy_sec, metered.answered_by_stream) == (0, 0.0, 5)
            await metered.get_balances()  # REST: one request, timed
            assert metered.requests == 1 and metered.busy_sec > 0 and metered.answered_by_stream == 5
            metered.reset()
            assert (metered.requests, metered.busy_sec, metered.answered_by_stream) == (0, 0.0, 0)

    with running_server(market="dead", balances={"USD": "1"}) as server:
        asyncio.run(scenario(server))
