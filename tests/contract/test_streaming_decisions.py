"""What the streaming adapter asks REST, and what it answers from the stream, on a virtual clock.

The feed is the real :class:`CoinbaseFeed` fed Coinbase-shaped messages directly (its WebSocket
connection is the edge replaced here); REST is the real simulated exchange behind a counter.
Specifications: a fresh streamed book carries the feed's last message as ``as_of``; a stale or
out-of-sync stream reads REST once; REST failing too hands the guard the old book, which blocks
new orders (not the purge taker fallback, which skips liquidity checks by the design note); order
states come from ``user`` without REST while it is live, REST answers the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from makerfirst.adapters.coinbase_stream.exchange import (
    CANCEL_REST_AFTER_SEC,
    UNREPORTED_GRACE_SEC,
    StreamingExchange,
)
from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed
from makerfirst.adapters.sim.driver import PlaceLimit, ScriptedMarket
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.adapters.sim_server.ws import user_order
from makerfirst.algorithms.guards import Guard, GuardBypass
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import VenueUnavailableError
from makerfirst.domain.intents import Purpose, SizeBase
from makerfirst.domain.orders import OrderAccepted, OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.execution.engine import AttemptOutcome, ExecutionEngine
from makerfirst.policy import PolicyError
from simkit import PENGU, make_exchange, policy_with

PRODUCT = PENGU.product_id


class FedFeed(CoinbaseFeed):
    """The feed without its connection: messages are handed to it as the socket would."""

    def start(self) -> None:
        return None

    def receive(self, channel: str, events: list[dict[str, Any]]) -> None:
        self.sequence = getattr(self, "sequence", 0)
        message = {"channel": channel, "sequence_num": self.sequence, "events": events}
        self.sequence += 1
        asyncio.run(self._handle(message))

    def skip(self) -> None:
        """A message lost on the way: the next one shows a gap."""
        self.sequence += 1

    def book_snapshot(self, bid: str, ask: str, size: str = "100000") -> None:
        updates = [
            {"side": "bid", "price_level": bid, "new_quantity": size},
            {"side": "offer", "price_level": ask, "new_quantity": size},
        ]
        self.receive("l2_data", [{"type": "snapshot", "product_id": PRODUCT, "updates": updates}])

    def heartbeat(self) -> None:
        self.receive("heartbeats", [{"current_time": "", "heartbeat_counter": "1"}])


class CountedRest:
    """The simulated exchange as the REST adapter, counting calls; ``books_fail`` makes its book
    reads fail as a venue that does not answer."""

    def __init__(self, exchange: SimulatedExchange) -> None:
        self._exchange = exchange
        self.calls: Counter[str] = Counter()
        self.books_fail = False

    def __getattr__(self, name: str) -> Any:
        inner = getattr(self._exchange, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "get_order_book" and self.books_fail:
                raise VenueUnavailableError("product_book: no answer (503)")
            return await inner(*args, **kwargs)

        return counted


def _venue(clock: VirtualClock) -> tuple[StreamingExchange, FedFeed, CountedRest, SimulatedExchange]:
    sim = make_exchange(clock, {"PENGU": "10000", "USD": "1000"})
    start = clock.now()
    resting = [
        (start, PlaceLimit("bid", Side.BUY, 14_500, 100_000)),
        (start, PlaceLimit("ask", Side.SELL, 14_530, 100_000)),
    ]
    sim.attach_market(PRODUCT, ScriptedMarket(resting))
    rest = CountedRest(sim)
    feed = FedFeed(clock=clock, products=[PRODUCT], max_staleness_sec=3.0)
    return StreamingExchange(rest, feed, clock), feed, rest, sim  # type: ignore[arg-type]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- books: their age, and the guard ---------------------------------------------------------------
def test_a_streamed_book_is_as_of_the_feeds_last_message_and_reads_no_rest() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    clock.advance_to(1_002.0)
    feed.heartbeat()  # no change in the book, but the connection says it is still current
    clock.advance_to(1_002.5)
    book = run(exchange.get_order_book(PRODUCT))
    assert (book.best_bid, book.best_ask) == (Decimal("0.014500"), Decimal("0.014530"))
    assert book.as_of == 1_002.0 and book.age_sec(clock.now()) == pytest.approx(0.5)
    assert rest.calls["get_order_book"] == 0 and exchange.books_from_feed == 1


def test_a_silent_feed_reads_rest_once_and_that_book_is_fresh() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    clock.advance_to(1_010.0)  # 10 s without a message: past the feed's 3 s staleness
    book = run(exchange.get_order_book(PRODUCT))
    assert rest.calls["get_order_book"] == 1
    assert book.as_of == 1_010.0 and book.age_sec(clock.now()) == 0.0


def test_a_sequence_gap_puts_the_book_out_of_sync_until_a_new_snapshot() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    feed._ws = _Sink()  # type: ignore[assignment]  # the resubscribe goes nowhere
    feed.skip()
    feed.heartbeat()  # arrives after a lost message: every book is out of sync
    run(exchange.get_order_book(PRODUCT))
    assert rest.calls["get_order_book"] == 1 and feed.gaps == 1
    feed.book_snapshot("0.014400", "0.014530")
    book = run(exchange.get_order_book(PRODUCT))
    assert rest.calls["get_order_book"] == 1 and book.best_bid == Decimal("0.014400")


class _Sink:
    async def send(self, _text: str) -> None:
        return None


def _engine(exchange: StreamingExchange, clock: VirtualClock, *sets: str) -> ExecutionEngine:
    policy = policy_with("guards.min_depth_usd=0", "guards.max_spread_bps=10000", *sets)
    return ExecutionEngine(exchange, clock, policy)


def test_a_stale_stream_whose_rest_read_fails_blocks_new_orders_naming_product_and_age(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, sim = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    clock.advance_to(1_012.0)  # silent 12 s; max_book_age_sec is 5 by default
    rest.books_fail = True
    engine = _engine(exchange, clock)
    with caplog.at_level(logging.INFO, logger="makerfirst"):
        report = run(
            engine.execute(
                symbol=PRODUCT, side=Side.SELL, size=SizeBase(Decimal(100)), purpose=Purpose.NORMAL
            )
        )
    assert report.outcome is AttemptOutcome.BLOCKED and report.guard is not None
    assert report.guard.guard is Guard.LIQUIDITY and "12.0s old" in report.guard.reason
    assert "max_book_age_sec 5" in report.guard.reason
    blocked = [r.getMessage() for r in caplog.records if "Blocked by liquidity guard" in r.getMessage()]
    assert blocked and PRODUCT in blocked[0] and "12.0s old" in blocked[0]
    assert sim.all_orders() == [] and rest.calls["place_order"] == 0


def test_the_book_age_limit_is_the_policys_and_a_younger_book_trades() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    clock.advance_to(1_012.0)
    rest.books_fail = True
    engine = _engine(exchange, clock, "guards.max_book_age_sec=15")
    report = run(
        engine.execute(
            symbol=PRODUCT, side=Side.SELL, size=SizeBase(Decimal(100)), purpose=Purpose.NORMAL, ttl_sec=1
        )
    )
    assert report.guard is None and report.outcome is not AttemptOutcome.BLOCKED
    assert rest.calls["place_order"] == 1


def test_the_purge_taker_fallback_skips_the_book_age_with_the_other_liquidity_checks() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.book_snapshot("0.014500", "0.014530")
    clock.advance_to(1_012.0)
    rest.books_fail = True
    engine = _engine(exchange, clock)
    report = run(
        engine.execute(
            symbol=PRODUCT,
            side=Side.SELL,
            size=SizeBase(Decimal(100)),
            purpose=Purpose.PURGE,
            force_order_type=OrderType.LIMIT_IOC,
            bypass=GuardBypass.TAKER_FALLBACK,
        )
    )
    assert report.guard is None and report.outcome is not AttemptOutcome.BLOCKED  # the design note
    assert rest.calls["place_order"] == 1


def test_without_any_book_a_failed_rest_read_is_the_venues_error() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, _, rest, _ = _venue(clock)
    rest.books_fail = True
    with pytest.raises(VenueUnavailableError):
        run(exchange.get_order_book(PRODUCT))


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_max_book_age_sec_is_validated(value: str) -> None:
    with pytest.raises(PolicyError, match="max_book_age_sec"):
        policy_with(f"guards.max_book_age_sec={value}")


def test_max_book_age_sec_defaults_to_five_seconds() -> None:
    assert policy_with().guards.max_book_age_sec == Decimal(5)


# -- orders: the user channel first, REST where the stream cannot tell -----------------------------
def _place(exchange: StreamingExchange, clock: VirtualClock, cid: str = "mf_1") -> OrderAccepted:
    command = PlaceOrder(
        cid, PRODUCT, Side.SELL, OrderType.POST_ONLY_GTD, Decimal(100), Decimal("0.0146"), clock.now() + 60
    )
    placed = run(exchange.place_order(command))
    assert isinstance(placed, OrderAccepted)
    return placed


def _user(feed: FedFeed, sim: SimulatedExchange) -> None:
    """An update on the user channel with every order as the venue has it now."""
    orders = [user_order(r, sim.settings.fees.taker) for r in sim.all_orders()]
    feed.receive("user", [{"type": "update", "orders": orders}])


def test_a_placed_order_is_read_from_the_user_channel_without_rest() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, sim = _venue(clock)
    feed.receive("user", [{"type": "snapshot", "orders": []}])
    placed = _place(exchange, clock)
    unreported = run(exchange.get_order(placed.order_id))  # accepted, not yet on the channel
    assert unreported.status is OrderStatus.PENDING and unreported.size == Decimal(100)
    _user(feed, sim)
    live = run(exchange.get_order(placed.order_id))
    assert live.status is OrderStatus.OPEN and live.order_type is OrderType.POST_ONLY_GTD
    assert rest.calls["get_order"] == 0 and exchange.orders_from_feed == 2


def test_an_order_the_channel_does_not_report_in_time_is_read_from_rest() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, _ = _venue(clock)
    feed.receive("user", [{"type": "snapshot", "orders": []}])
    placed = _place(exchange, clock)
    clock.advance_to(1_000.0 + UNREPORTED_GRACE_SEC + 0.5)
    feed.heartbeat()
    assert run(exchange.get_order(placed.order_id)).status is OrderStatus.OPEN
    assert rest.calls["get_order"] == 1


def test_a_cancel_is_confirmed_by_the_channels_terminal_update_and_rest_only_after_the_timeout() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, sim = _venue(clock)
    feed.receive("user", [{"type": "snapshot", "orders": []}])
    first, second = _place(exchange, clock, "mf_1"), _place(exchange, clock, "mf_2")
    _user(feed, sim)
    run(exchange.cancel_orders([first.order_id]))
    _user(feed, sim)
    done = run(exchange.get_order(first.order_id))
    assert done.status is OrderStatus.CANCELLED and rest.calls["get_order"] == 0

    # A cancel the channel never shows terminal: after CANCEL_REST_AFTER_SEC, REST is asked.
    run(exchange.cancel_orders([second.order_id]))
    feed.heartbeat()  # the update is lost without a gap (the channel is still live)
    assert run(exchange.get_order(second.order_id)).status is OrderStatus.OPEN  # the channel's word
    clock.advance_to(clock.now() + CANCEL_REST_AFTER_SEC + 0.5)
    feed.heartbeat()
    assert run(exchange.get_order(second.order_id)).status is OrderStatus.CANCELLED
    assert rest.calls["get_order"] == 1


def test_orders_placed_before_a_resync_and_orders_not_ours_are_read_from_rest() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, feed, rest, sim = _venue(clock)
    feed.receive("user", [{"type": "snapshot", "orders": []}])
    placed = _place(exchange, clock)
    feed._ws = _Sink()  # type: ignore[assignment]
    feed.skip()
    feed.heartbeat()  # a gap: the channel forgets, and resubscribes
    clock.advance_to(1_000.5)
    feed.receive("user", [{"type": "snapshot", "orders": []}])  # the order is not in it (it ended?)
    assert run(exchange.get_order(placed.order_id)).status is OrderStatus.OPEN
    assert rest.calls["get_order"] == 1

    command = PlaceOrder(
        "other",
        PRODUCT,
        Side.SELL,
        OrderType.POST_ONLY_GTD,
        Decimal(500),
        Decimal("0.0147"),
        clock.now() + 60,
    )
    stranger = run(sim.place_order(command))  # not placed through this adapter (e.g. before a restart)
    assert isinstance(stranger, OrderAccepted)
    _user(feed, sim)
    assert run(exchange.get_order(stranger.order_id)).status is OrderStatus.OPEN
    assert rest.calls["get_order"] == 2


def test_a_channel_that_is_not_live_sends_every_read_to_rest() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, _, rest, _ = _venue(clock)
    placed = _place(exchange, clock)  # no user snapshot yet
    run(exchange.get_order(placed.order_id))
    assert rest.calls["get_order"] == 1


def test_fee_rates_are_read_once_in_a_while_not_per_loop() -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, _, rest, _ = _venue(clock)
    for _ in range(5):
        run(exchange.get_fee_rates())
    assert rest.calls["get_fee_rates"] == 1
    clock.advance_to(1_000.0 + 301)
    run(exchange.get_fee_rates())
    assert rest.calls["get_fee_rates"] == 2
