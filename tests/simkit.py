"""Test kit: products and a simulated exchange on a virtual clock (import as ``simkit``)."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path

from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.market import SyntheticMarket
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.product import Product
from makerfirst.execution.engine import ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from makerfirst.policy import Policy, load_policy

# The real captures (read-only): $MAKERFIRST_DATA_DIR, else shared/data beside the repository,
# where CI puts it. Tests that need them skip with this path in the reason when they are absent.
DATA_DIR = Path(
    os.environ.get("MAKERFIRST_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
COINBASE_THIN = DATA_DIR / "coinbase-thin-2021-04-17"
BINANCE_BTCUSDT = DATA_DIR / "binance-btcusdt-2024-08-08"

PENGU = Product(
    product_id="PENGU-USD",
    base_currency="PENGU",
    quote_currency="USD",
    price_increment=Decimal("0.000001"),
    base_increment=Decimal("1"),
    base_min_size=Decimal("1"),
    quote_min_size=Decimal("1"),
)


def make_exchange(
    clock: VirtualClock,
    balances: dict[str, str] | None = None,
    *,
    latency: float = 0.0,
    cancel_queue: float = 0.0,
    product: Product = PENGU,
) -> SimulatedExchange:
    funds = {k: Decimal(v) for k, v in (balances or {"PENGU": "10000", "USD": "1000"}).items()}
    settings = SimulatorSettings(request_latency_sec=latency, cancel_queue_sec=cancel_queue)
    return SimulatedExchange(clock, [product], funds, settings)


BTC = Product(
    product_id="BTC-USD",
    base_currency="BTC",
    quote_currency="USD",
    price_increment=Decimal("0.01"),
    base_increment=Decimal("0.00000001"),
    base_min_size=Decimal("0.00000001"),
    quote_min_size=Decimal("1"),
)


def policy_with(*overrides: str) -> Policy:
    """The shipped policy with ``--set``-style overrides."""
    return load_policy(None, list(overrides))


def synthetic_exchange(
    clock: VirtualClock,
    market: str,
    *,
    product: Product = PENGU,
    price: str = "0.0145",
    balances: dict[str, str] | None = None,
    seed: int = 1,
    latency: float = 0.05,
    cancel_queue: float = 0.02,
) -> SimulatedExchange:
    """A simulated exchange whose product is driven by a market preset, warmed up for 5 s."""
    funds = {k: Decimal(v) for k, v in (balances or {product.base_currency: "1116"}).items()}
    settings = SimulatorSettings(request_latency_sec=latency, cancel_queue_sec=cancel_queue, seed=seed)
    exchange = SimulatedExchange(clock, [product], funds, settings)
    exchange.attach_market(
        product.product_id, SyntheticMarket(product, PRESETS[market], Decimal(price), clock.now(), seed)
    )
    clock.advance_to(clock.now() + 5)
    exchange.advance()
    return exchange


def sell(
    exchange: SimulatedExchange,
    clock: VirtualClock,
    policy: Policy,
    size: str,
    purpose: Purpose = Purpose.PURGE,
    product_id: str = "PENGU-USD",
) -> TwapReport:
    """Run one sell loop to its end on the virtual clock."""
    engine = ExecutionEngine(exchange, clock, policy, ClientOrderIds(7))
    intent = TradeIntent(product_id, SizeBase(Decimal(size)), purpose)
    return asyncio.run(TwapLoop(engine, exchange, clock).run(intent))
