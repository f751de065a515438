"""The two implementations of the exchange port the contract suite runs against.

* ``simulator`` — the in-process :class:`SimulatedExchange` on a virtual clock (waits are free);
* ``ccxt-coinbase`` — :class:`CcxtExchange` → the Coinbase-compatible sim server on 127.0.0.1,
  in real time on the system clock (waits cost wall time, so the cases keep them near a second).

Both trade PENGU-USD on the seeded ``dead`` market (a thin book nobody buys from) and hold
:data:`BALANCES`. Cases price their orders from the book they read, never from constants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials
from makerfirst.adapters.products_file import load_catalogue
from makerfirst.clock import Clock, SystemClock, VirtualClock
from makerfirst.domain.orders import OrderReport, OrderType, PlaceOrder, Side
from makerfirst.domain.product import Product
from makerfirst.ports import ExchangePort
from simkit import synthetic_exchange

PRODUCT_ID = "PENGU-USD"
PENGU: Product = load_catalogue().products[PRODUCT_ID]
# Enough PENGU to sell through two whole bid levels of the dead book (~100k PENGU each).
BALANCES = {"PENGU": "2000000", "USD": "100"}
SIMULATOR, CCXT = "simulator", "ccxt-coinbase"
IMPLEMENTATIONS = (SIMULATOR, CCXT)


@dataclass(frozen=True, slots=True)
class Venue:
    """One implementation under test: its port, its clock and what it started with."""

    name: str
    exchange: ExchangePort
    clock: Clock
    balances: dict[str, Decimal]

    async def wait(self, seconds: float) -> None:
        await self.clock.sleep_until(self.clock.now() + seconds)

    async def wait_terminal(self, order_id: str, within_sec: float = 2.0) -> list[OrderReport]:
        """Poll the order until it is terminal; every report seen, the terminal one last."""
        seen = [await self.exchange.get_order(order_id)]
        deadline = self.clock.now() + within_sec
        while not seen[-1].status.is_terminal and self.clock.now() < deadline:
            await self.wait(0.05)
            seen.append(await self.exchange.get_order(order_id))
        return seen


@asynccontextmanager
async def open_venue(name: str) -> AsyncIterator[Venue]:
    """The named implementation, fresh: its own market, balances and (for ccxt) server."""
    balances = {k: Decimal(v) for k, v in BALANCES.items()}
    if name == SIMULATOR:
        clock = VirtualClock()
        exchange = synthetic_exchange(clock, "dead", product=PENGU, balances=BALANCES, cancel_queue=0.05)
        yield Venue(name, exchange, clock, balances)
        return
    from makerfirst.adapters.sim_server.testing import running_server  # noqa: PLC0415 - skipped if absent

    with running_server(balances=BALANCES) as server:
        system = SystemClock()
        credentials = load_credentials(server.credentials_path)
        async with CcxtExchange(
            clock=system, api_url=server.url, credentials=credentials, timeout_sec=5.0
        ) as ccxt_exchange:
            yield Venue(name, ccxt_exchange, system, balances)


def post_only_sell(cid: str, price: Decimal, size: str, end_time: float) -> PlaceOrder:
    return PlaceOrder(cid, PRODUCT_ID, Side.SELL, OrderType.POST_ONLY_GTD, Decimal(size), price, end_time)


def ioc_sell(cid: str, price: Decimal, size: Decimal) -> PlaceOrder:
    return PlaceOrder(cid, PRODUCT_ID, Side.SELL, OrderType.LIMIT_IOC, size, price)


def ticks(n: int) -> Decimal:
    return PENGU.price_increment * n
