"""The ports: the exchange (the only way execution talks to a venue) and the store (the bot's
memory; ``HistoryStore`` is its operator-side reading). Domain types in, domain types out.

Exchange implementations: the in-process simulator (``adapters.sim``) and the ccxt adapter
(``adapters.ccxt_exchange``); the store's: ``persistence.store.SqlStore``. ``bootstrap`` is the
only place that chooses or names one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from makerfirst.domain.balances import Balance
from makerfirst.domain.book import OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import (
    CancelResult,
    FeeRates,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderReport,
    PlaceOrder,
    Side,
)
from makerfirst.domain.product import Product
from makerfirst.domain.records import CycleRecord, HoldingSnapshot, PurgeRun, StoredOrder


class ExchangePort(Protocol):
    async def get_product(self, product_id: str) -> Product: ...

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook: ...

    async def get_balances(self) -> dict[str, Decimal]:
        """Available (not held) balance per currency."""
        ...

    async def get_balance_sheet(self) -> dict[str, Balance]:
        """Available and on-hold balance per currency, from one read of the venue: what the bot
        believes it holds (``Balance.total``) comes from here, never from its own journal."""
        ...

    async def get_fee_rates(self) -> FeeRates: ...

    async def get_volume_24h(self, product_id: str) -> Decimal:
        """Traded volume over the last 24 h, in the product's quote currency."""
        ...

    async def place_order(self, command: PlaceOrder) -> OrderAccepted | OrderRejected: ...

    async def cancel_orders(self, order_ids: list[str]) -> list[CancelResult]:
        """One result per id, in order. ``ACCEPTED`` does not mean terminal: confirm with ``get_order``."""
        ...

    async def get_order(self, order_id: str) -> OrderReport: ...

    async def list_fills(self, order_id: str) -> list[Fill]: ...

    async def list_open_orders(self, product_id: str | None = None) -> list[OrderReport]:
        """Orders not yet terminal (PENDING, OPEN, QUEUED, CANCEL_QUEUED)."""
        ...

    async def find_order_by_client_id(self, client_order_id: str) -> OrderReport | None:
        """Our order with this client id, or None if the exchange never created it.

        The recovery path after a create whose answer was lost: look before resending.
        """
        ...


@runtime_checkable
class OrderUpdates(Protocol):
    """An exchange that pushes order changes (Coinbase's ``user`` channel): the engine waits on
    it instead of sleeping out its poll interval, so a fill is acted on when it arrives."""

    async def wait_order_update(self, order_id: str, until: float) -> None:
        """Return when ``order_id`` changed, or at ``until`` (the clock's time) at the latest."""
        ...


@runtime_checkable
class BookWakeups(Protocol):
    """An exchange that can wake a waiter when its book meets a :class:`BookCondition` (the replay
    venues, which see the tape ahead of the clock). A venue without it is waited on by its timer."""

    async def wait_book_condition(self, product_id: str, condition: BookCondition, until: float) -> None:
        """Return when ``condition`` holds on ``product_id``'s book, or at ``until`` (the clock's
        time) at the latest."""
        ...


@runtime_checkable
class FrontsRest(Protocol):
    """A venue in front of a REST venue (Coinbase's WebSocket feed before its REST API): it answers
    some calls itself and passes the others on, where each call is one request over the wire. A
    request meter puts itself between the two (``meter_rest``), so it counts what went to the
    venue, not what the stream answered; ``answered_by_stream`` counts the latter (it only grows)."""

    def meter_rest(self, wrap: Callable[[ExchangePort], ExchangePort]) -> None:
        """Send every REST call through ``wrap(rest)`` from now on."""
        ...

    @property
    def answered_by_stream(self) -> int: ...


class OrderJournal(Protocol):
    """Where the engine writes down every order, the intent first: before the request is sent."""

    def record_intent(
        self, command: PlaceOrder, purpose: Purpose, now: float, run_id: int | None
    ) -> None: ...

    def record_accepted(self, client_order_id: str, order_id: str) -> None: ...

    def record_not_created(self, client_order_id: str, reason: str) -> None: ...

    def record_report(self, report: OrderReport, fills: Sequence[Fill] = ()) -> None:
        """The order as the venue reports it, with the ``fills`` read for it, in one transaction:
        a crash never leaves a terminal order recorded without its fills. A stale or illegal move
        (the lifecycle table decides) is ignored, never written."""
        ...

    def record_fills(self, fills: Sequence[Fill]) -> None:
        """Idempotent per trade id: a fill seen twice is stored once."""
        ...


class Store(OrderJournal, Protocol):
    """The bot's memory: the order journal, purge runs and cycles."""

    def open_orders(self) -> list[StoredOrder]: ...

    def order(self, client_order_id: str) -> StoredOrder | None: ...

    def orders_for_run(self, run_id: int) -> list[StoredOrder]: ...

    def unsettled_orders(self) -> list[StoredOrder]:
        """Terminal orders whose recorded fills do not add up to their filled size."""
        ...

    def adopt(self, report: OrderReport, purpose: Purpose, now: float) -> None:
        """Record an order found on the exchange that we had no row for."""
        ...

    def start_run(
        self,
        product_id: str,
        purpose: Purpose,
        size: Decimal,
        cushion_ticks: int,
        now: float,
        *,
        side: Side = Side.SELL,
    ) -> PurgeRun: ...

    def active_run(self, product_id: str) -> PurgeRun | None: ...

    def save_run(self, run: PurgeRun) -> None: ...

    def runs(self) -> list[PurgeRun]: ...

    def record_cycle(self, cycle: CycleRecord, holdings: Sequence[HoldingSnapshot] = ()) -> None:
        """The cycle and the holdings it measured, together."""
        ...

    def cycles(self) -> list[CycleRecord]: ...

    def latest_holdings(self) -> list[HoldingSnapshot]:
        """The holdings of the newest cycle that measured any."""
        ...

    def save_document(self, name: str, document: str) -> None:
        """Keep a small named JSON document (the runner's state) across restarts."""
        ...

    def load_document(self, name: str) -> str | None: ...


class HistoryStore(Store, Protocol):
    """The store as the operator's side reads it (status, the dashboard, metrics): everything the
    bot's memory holds, and its closing. ``bootstrap`` opens the one implementation (SQL)."""

    def all_orders(self) -> list[StoredOrder]: ...

    def all_fills(self) -> list[Fill]: ...

    def close(self) -> None: ...
