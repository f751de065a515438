"""The exchange port: the only way execution talks to a venue. Domain types in, domain types out.

Implementations: the in-process simulator (``adapters.sim``) and, later, the ccxt adapter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

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


class ExchangePort(Protocol):
    async def get_product(self, product_id: str) -> Product: ...

    async def get_order_book(self, product_id: str, depth: int = 50) -> OrderBook: ...

    async def get_balances(self) -> dict[str, Decimal]:
        """Available (not held) balance per currency."""
        ...

    async def get_fee_rates(self) -> FeeRates: ...

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
