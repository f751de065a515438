"""The exchange port with Coinbase's WebSocket feed in front of REST.

:class:`StreamingExchange` wraps the REST adapter (``rest``, any :class:`ExchangePort`) and a
:class:`CoinbaseFeed`:

* ``get_order_book``: the feed's book while it is in sync and fresh; REST otherwise (a gap, a silent
  feed, a product not yet snapshotted). A book the feed serves is never one it has missed updates of.
* ``get_order``: the ``user`` channel's state of a live order; REST for an order the channel has not
  reported, whenever the feed is not live, and for every *finished* order (the terminal report, and
  the fills read after it, come from REST: that is the reconciliation).
* ``wait_order_update``: wakes the engine when the ``user`` channel reports the order
  (:class:`makerfirst.ports.OrderUpdates`), so a fill is acted on when it arrives, not a poll later.

Everything else (placing, cancelling, balances, fills) is REST.
"""

from __future__ import annotations

from decimal import Decimal

from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed
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
from makerfirst.ports import ExchangePort


class StreamingExchange:
    """See the module docs. ``close`` stops the feed (the REST adapter is the caller's to close)."""

    def __init__(self, rest: ExchangePort, feed: CoinbaseFeed) -> None:
        self.rest = rest
        self.feed = feed
        self.books_from_feed = 0
        self.books_from_rest = 0
        self.orders_from_feed = 0
        self.orders_from_rest = 0

    async def close(self) -> None:
        await self.feed.close()

    async def get_product(self, product_id: str) -> Product:
        return await self.rest.get_product(product_id)

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook:
        book = self.feed.book(product_id, depth)
        if book is not None and book.bids and book.asks:
            self.books_from_feed += 1
            return book
        await self.feed.watch(product_id)
        self.books_from_rest += 1
        return await self.rest.get_order_book(product_id, depth)

    async def get_balances(self) -> dict[str, Decimal]:
        return await self.rest.get_balances()

    async def get_balance_sheet(self) -> dict[str, Balance]:
        return await self.rest.get_balance_sheet()

    async def get_fee_rates(self) -> FeeRates:
        return await self.rest.get_fee_rates()

    async def get_volume_24h(self, product_id: str) -> Decimal:
        return await self.rest.get_volume_24h(product_id)

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected:
        outcome = await self.rest.place_order(command)
        if isinstance(outcome, OrderAccepted):
            self.feed.expect(outcome.order_id, command.size)
        return outcome

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        return await self.rest.cancel_orders(order_ids)

    async def get_order(self, order_id: str) -> OrderReport:
        streamed = self.feed.order(order_id)
        if streamed is not None and not streamed.status.is_terminal:
            self.orders_from_feed += 1
            return streamed
        self.orders_from_rest += 1
        return await self.rest.get_order(order_id)

    async def list_fills(self, order_id: str) -> list[Fill]:
        return await self.rest.list_fills(order_id)

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        return await self.rest.list_open_orders(product_id)

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        return await self.rest.find_order_by_client_id(client_order_id)

    async def wait_order_update(self, order_id: str, until: float) -> None:
        await self.feed.wait_order_update(order_id, until)
