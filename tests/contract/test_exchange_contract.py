"""The exchange port's contract: what execution may rely on from any implementation.

Every case runs against the in-process simulator and against the ccxt adapter talking to the
Coinbase-compatible server over HTTP (see ``exchange_venues``). A behaviour that differs between
the two is a bug in one of them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from exchange_venues import BALANCES, PENGU, PRODUCT_ID, Venue, ioc_sell, post_only_sell, ticks

from makerfirst.domain.errors import OrderNotFoundError, ProductNotFoundError
from makerfirst.domain.orders import (
    CancelOutcome,
    CancelResult,
    Liquidity,
    OrderAccepted,
    OrderRejected,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
)

pytestmark = pytest.mark.anyio
D = Decimal
GTD_LIFE_SEC = 30.0  # long enough never to expire within a case that does not wait for it


async def rest_a_sell(
    venue: Venue, cid: str = "rest-1", size: str = "100"
) -> tuple[OrderAccepted, PlaceOrder]:
    """A post-only GTD sell well above the ask: it rests and nobody in a dead market buys it."""
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    command = post_only_sell(cid, book.best_ask + ticks(20), size, venue.clock.now() + GTD_LIFE_SEC)
    answer = await venue.exchange.place_order(command)
    assert isinstance(answer, OrderAccepted), answer
    return answer, command


# -- market data -----------------------------------------------------------------------------------
async def test_product_reports_its_increments_and_minimums(venue: Venue) -> None:
    product = await venue.exchange.get_product(PRODUCT_ID)
    assert (product.base_currency, product.quote_currency) == ("PENGU", "USD")
    assert product.price_increment == PENGU.price_increment
    assert product.base_increment == PENGU.base_increment
    assert product.base_min_size == PENGU.base_min_size
    assert product.quote_min_size == PENGU.quote_min_size
    assert not product.trading_disabled


async def test_unknown_product_is_not_found(venue: Venue) -> None:
    with pytest.raises(ProductNotFoundError):
        await venue.exchange.get_product("NOPE-USD")


async def test_order_book_is_sorted_best_first_and_uncrossed(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID, depth=10)
    assert book.product_id == PRODUCT_ID
    assert 0 < len(book.bids) <= 10 and 0 < len(book.asks) <= 10
    bid_prices, ask_prices = [lv.price for lv in book.bids], [lv.price for lv in book.asks]
    assert bid_prices == sorted(bid_prices, reverse=True) and len(set(bid_prices)) == len(bid_prices)
    assert ask_prices == sorted(ask_prices) and len(set(ask_prices)) == len(ask_prices)
    assert book.best_bid < book.best_ask
    assert all(lv.size > 0 and PENGU.on_tick(lv.price) for lv in book.bids + book.asks)


async def test_balances_are_what_is_available_and_a_resting_sell_holds_its_size(venue: Venue) -> None:
    before = await venue.exchange.get_balances()
    assert before["PENGU"] == venue.balances["PENGU"]
    assert before["USD"] == venue.balances["USD"]
    await rest_a_sell(venue, size="250")
    after = await venue.exchange.get_balances()
    assert after["PENGU"] == venue.balances["PENGU"] - 250
    assert after["USD"] == venue.balances["USD"]


async def test_fee_rates_are_coinbase_entry_tier(venue: Venue) -> None:
    fees = await venue.exchange.get_fee_rates()
    assert (fees.maker, fees.taker) == (D("0.006"), D("0.012"))


# -- placing ---------------------------------------------------------------------------------------
async def test_post_only_gtd_sell_rests_open_and_get_order_reports_it(venue: Venue) -> None:
    answer, command = await rest_a_sell(venue, cid="rest-report")
    assert answer.client_order_id == "rest-report"
    report = await venue.exchange.get_order(answer.order_id)
    assert report.status is OrderStatus.OPEN
    assert report.order_id == answer.order_id and report.client_order_id == "rest-report"
    assert (report.product_id, report.side, report.order_type) == (
        PRODUCT_ID,
        Side.SELL,
        OrderType.POST_ONLY_GTD,
    )
    assert (report.size, report.limit_price) == (command.size, command.limit_price)
    assert (report.filled_size, report.filled_value, report.total_fees) == (0, 0, 0)
    assert command.end_time is not None and report.end_time == pytest.approx(command.end_time, abs=0.001)
    assert abs(report.created_time - venue.clock.now()) < 5


async def test_crossing_post_only_is_rejected_and_creates_no_order(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    command = post_only_sell("cross-1", book.best_bid, "100", venue.clock.now() + GTD_LIFE_SEC)
    answer = await venue.exchange.place_order(command)
    assert isinstance(answer, OrderRejected)
    assert answer.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert answer.client_order_id == "cross-1"
    assert await venue.exchange.find_order_by_client_id("cross-1") is None
    assert await venue.exchange.list_open_orders(PRODUCT_ID) == []
    assert (await venue.exchange.get_balances())["PENGU"] == venue.balances["PENGU"]


@pytest.mark.parametrize(
    ("size", "ticks_above_ask", "reason"),
    [
        ("10.5", 20, RejectReason.INVALID_SIZE_PRECISION),  # PENGU trades in whole units
        ("50", 20, RejectReason.NOTIONAL_TOO_SMALL),  # ~$0.73 < quote_min_size $1
        ("3000000", 20, RejectReason.INSUFFICIENT_FUND),  # more than the balance
    ],
)
async def test_invalid_orders_are_rejected_with_the_reason(
    venue: Venue, size: str, ticks_above_ask: int, reason: RejectReason
) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    price = book.best_ask + ticks(ticks_above_ask)
    answer = await venue.exchange.place_order(post_only_sell("bad", price, size, venue.clock.now() + 30))
    assert isinstance(answer, OrderRejected) and answer.reason is reason
    assert await venue.exchange.find_order_by_client_id("bad") is None


async def test_off_tick_price_is_rejected_not_rounded(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    price = book.best_ask + ticks(20) + PENGU.price_increment / 2
    answer = await venue.exchange.place_order(post_only_sell("half", price, "100", venue.clock.now() + 30))
    assert isinstance(answer, OrderRejected) and answer.reason is RejectReason.INVALID_PRICE_PRECISION
    assert await venue.exchange.list_open_orders(PRODUCT_ID) == []


async def test_gtd_order_expires_after_its_end_time(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    end_time = venue.clock.now() + 1.0
    answer = await venue.exchange.place_order(
        post_only_sell("gtd", book.best_ask + ticks(20), "100", end_time)
    )
    assert isinstance(answer, OrderAccepted)
    assert (await venue.exchange.get_order(answer.order_id)).status is OrderStatus.OPEN
    await venue.clock.sleep_until(end_time + 0.3)
    report = await venue.exchange.get_order(answer.order_id)
    assert report.status is OrderStatus.EXPIRED
    assert report.filled_size == 0
    assert (await venue.exchange.get_balances())["PENGU"] == venue.balances["PENGU"]  # hold released


async def test_reused_client_id_returns_the_same_order(venue: Venue) -> None:
    first, command = await rest_a_sell(venue, cid="same-id")
    again = await venue.exchange.place_order(command)
    assert again == first
    assert [r.order_id for r in await venue.exchange.list_open_orders(PRODUCT_ID)] == [first.order_id]


# -- the taker -------------------------------------------------------------------------------------
async def test_ioc_sell_fills_against_bids_never_below_its_limit_and_cancels_the_rest(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID, depth=5)
    top, second = book.bids[0], book.bids[1]
    available = top.size + second.size  # everything bid at or above the limit
    size = available + 1_000
    answer = await venue.exchange.place_order(ioc_sell("ioc-1", second.price, size))
    assert isinstance(answer, OrderAccepted)
    report = await venue.exchange.get_order(answer.order_id)
    assert report.order_type is OrderType.LIMIT_IOC
    assert report.status is OrderStatus.CANCELLED  # the remainder does not rest
    assert report.filled_size == available
    assert report.filled_value == top.price * top.size + second.price * second.size
    assert report.average_filled_price >= second.price
    assert await venue.exchange.list_open_orders(PRODUCT_ID) == []
    balances = await venue.exchange.get_balances()
    assert balances["PENGU"] == venue.balances["PENGU"] - available

    fills = await venue.exchange.list_fills(answer.order_id)
    assert fills, "an IOC that traded lists its fills"
    assert all(f.price >= second.price for f in fills)
    assert all(f.liquidity is Liquidity.TAKER and f.side is Side.SELL for f in fills)
    assert all(f.order_id == answer.order_id and f.product_id == PRODUCT_ID for f in fills)
    assert sum(f.size for f in fills) == report.filled_size
    assert all(f.fee == f.price * f.size * D("0.012") for f in fills)  # taker rate, in quote
    assert sum(f.fee for f in fills) == report.total_fees


async def test_ioc_sell_above_the_bid_fills_nothing_and_is_cancelled(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    answer = await venue.exchange.place_order(ioc_sell("ioc-none", book.best_bid + ticks(1), D(100)))
    assert isinstance(answer, OrderAccepted)
    report = await venue.exchange.get_order(answer.order_id)
    assert (report.status, report.filled_size) == (OrderStatus.CANCELLED, 0)
    assert await venue.exchange.list_fills(answer.order_id) == []


# -- cancelling ------------------------------------------------------------------------------------
async def test_cancel_is_accepted_then_the_order_ends_cancelled(venue: Venue) -> None:
    answer, _ = await rest_a_sell(venue, cid="to-cancel")
    assert await venue.exchange.cancel_orders([answer.order_id]) == [
        CancelResult(answer.order_id, CancelOutcome.ACCEPTED)
    ]
    seen = await venue.wait_terminal(answer.order_id)
    assert seen[-1].status is OrderStatus.CANCELLED
    assert {r.status for r in seen} <= {OrderStatus.CANCEL_QUEUED, OrderStatus.CANCELLED}
    assert (await venue.exchange.get_balances())["PENGU"] == venue.balances["PENGU"]


async def test_cancelling_again_or_an_unknown_order_says_so(venue: Venue) -> None:
    answer, _ = await rest_a_sell(venue, cid="twice")
    await venue.exchange.cancel_orders([answer.order_id])
    await venue.wait_terminal(answer.order_id)
    unknown = str(uuid.uuid4())
    assert await venue.exchange.cancel_orders([answer.order_id, unknown]) == [
        CancelResult(answer.order_id, CancelOutcome.ALREADY_DONE),
        CancelResult(unknown, CancelOutcome.UNKNOWN_ORDER),
    ]


async def test_cancelling_a_filled_order_says_already_filled(venue: Venue) -> None:
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    answer = await venue.exchange.place_order(ioc_sell("filled", book.best_bid, D(100)))
    assert isinstance(answer, OrderAccepted)
    assert (await venue.exchange.get_order(answer.order_id)).status is OrderStatus.FILLED
    assert await venue.exchange.cancel_orders([answer.order_id]) == [
        CancelResult(answer.order_id, CancelOutcome.ALREADY_FILLED)
    ]
    assert (await venue.exchange.get_order(answer.order_id)).status is OrderStatus.FILLED


# -- finding orders --------------------------------------------------------------------------------
async def test_list_open_orders_shows_resting_orders_until_they_end(venue: Venue) -> None:
    first, _ = await rest_a_sell(venue, cid="open-1")
    second, _ = await rest_a_sell(venue, cid="open-2")
    listed = await venue.exchange.list_open_orders(PRODUCT_ID)
    assert {r.order_id for r in listed} == {first.order_id, second.order_id}
    assert all(r.status is OrderStatus.OPEN for r in listed)
    assert {r.order_id for r in await venue.exchange.list_open_orders()} == {first.order_id, second.order_id}
    assert await venue.exchange.list_open_orders("BTC-USD") == []
    await venue.exchange.cancel_orders([first.order_id])
    await venue.wait_terminal(first.order_id)
    assert [r.order_id for r in await venue.exchange.list_open_orders(PRODUCT_ID)] == [second.order_id]


async def test_find_order_by_client_id(venue: Venue) -> None:
    answer, command = await rest_a_sell(venue, cid="find-me")
    found = await venue.exchange.find_order_by_client_id("find-me")
    assert found is not None
    assert (found.order_id, found.client_order_id, found.size) == (answer.order_id, "find-me", command.size)
    assert await venue.exchange.find_order_by_client_id("never-sent") is None


async def test_unknown_order_id_is_not_found(venue: Venue) -> None:
    with pytest.raises(OrderNotFoundError):
        await venue.exchange.get_order(str(uuid.uuid4()))


def test_the_suite_trades_the_balances_it_declares() -> None:
    assert Decimal(BALANCES["PENGU"]) > 200_000  # two bid levels of the dead book fit in it


async def test_volume_24h_is_reported_in_quote(venue: Venue) -> None:
    # The dead market's sellers trade ~0.033 times a second: some dollars a day, never nothing.
    volume = await venue.exchange.get_volume_24h(PRODUCT_ID)
    assert volume > 0
