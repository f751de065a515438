"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from makerfirst.adapters.products_file import Catalogue
from makerfirst.adapters.sim import world as paper_world
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.market import SyntheticMarket
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.clock import Clock, VirtualClock
from makerfirst.domain.errors import MakerfirstError, ProductNotFoundError
from makerfirst.domain.intents import TradeIntent
from makerfirst.execution.engine import ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from makerfirst.persistence.store import SqlStore
from makerfirst.policy import Policy
from makerfirst.ports import ExchangePort, Store
from makerfirst.runner.loop import Runner

WARM_UP_SEC = 5.0  # let the synthetic market trade a little before the intent arrives


@dataclass(frozen=True, slots=True)
class Simulation:
    clock: VirtualClock
    exchange: SimulatedExchange
    engine: ExecutionEngine
    twap_loop: TwapLoop


def build_simulation(
    *,
    catalogue: Catalogue,
    product_id: str,
    market: str,
    price: Decimal | None,
    seed: int,
    balances: dict[str, Decimal],
    policy: Policy,
    settings: SimulatorSettings | None = None,
) -> Simulation:
    """A simulated exchange on a virtual clock with one product driven by a market preset."""
    product = catalogue.products.get(product_id)
    if product is None:
        known = ", ".join(sorted(catalogue.products))
        raise ProductNotFoundError(
            f"unknown product {product_id!r}; known: {known} (or pass --products-file)"
        )
    params = PRESETS.get(market)
    if params is None:
        raise MakerfirstError(f"unknown market {market!r}; choose one of: {', '.join(PRESETS)}")
    start_price = price if price is not None else catalogue.reference_prices.get(product_id)
    if start_price is None or start_price <= 0:
        raise MakerfirstError(f"{product_id} has no reference price: pass --price (the starting mid)")
    clock = VirtualClock()
    exchange = SimulatedExchange(clock, [product], balances, settings or SimulatorSettings(seed=seed))
    exchange.attach_market(product_id, SyntheticMarket(product, params, start_price, clock.now(), seed))
    clock.advance_to(clock.now() + WARM_UP_SEC)
    exchange.advance()
    engine = ExecutionEngine(exchange, clock, policy, ClientOrderIds(seed))
    return Simulation(clock, exchange, engine, TwapLoop(engine, exchange, clock))


async def run_simulated_trade(simulation: Simulation, intent: TradeIntent) -> TwapReport:
    return await simulation.twap_loop.run(intent)


# The paper demo: liquid BTC and ETH off their targets, junk to purge (PENGU on a dead book, ZK on a
# thin one), and SHIB worth less than the $1 minimum order: dust.
DEMO_BALANCES = {
    "BTC": Decimal("0.005"),
    "ETH": Decimal("0.5"),
    "USD": Decimal("1000"),
    "PENGU": Decimal("1116"),
    "ZK": Decimal("400"),
    "SHIB": Decimal("50000"),
}


PAPER_WORLD = "paper_world"  # the store document that keeps the paper venue between runs


def build_paper_exchange(
    *,
    catalogue: Catalogue,
    clock: Clock,
    market: str | None,
    seed: int,
    balances: dict[str, Decimal],
    world: Mapping[str, Any] | None = None,
) -> SimulatedExchange:
    """Paper trading: the in-process simulator behind the same port. Every product with a
    reference price is driven by ``market``, or by the preset its catalogue entry names
    (liquid majors, thin or dead junk), or ``thin``. With a ``world`` (from :func:`load_paper_world`)
    the venue continues it: its balances and orders, its time on a virtual clock, each market
    from the mid it had; ``balances`` are then not used."""
    if market is not None and market not in PRESETS:
        raise MakerfirstError(f"unknown market {market!r}; choose one of: {', '.join(PRESETS)}")
    mids: dict[str, Decimal] = {}
    if world is not None:
        started, mids = paper_world.start_of(world)
        if isinstance(clock, VirtualClock):
            clock.advance_to(started)  # a --fast run goes on from where the last one stopped
    products = list(catalogue.products.values())
    exchange = SimulatedExchange(clock, products, balances, SimulatorSettings(seed=seed))
    for product in products:
        pid = product.product_id
        price = mids.get(pid, catalogue.reference_prices.get(pid))
        preset = PRESETS.get(market or catalogue.markets.get(pid, "thin"), PRESETS["thin"])
        if price is not None:
            exchange.attach_market(pid, SyntheticMarket(product, preset, price, clock.now(), seed))
    if world is not None:
        exchange.restore_world(world)
    return exchange


def load_paper_world(store: Store) -> dict[str, Any] | None:
    """The paper venue a previous run kept in ``store``, or None for a first run."""
    document = store.load_document(PAPER_WORLD)
    return None if document is None else paper_world.parse(document)


def keep_paper_world(exchange: SimulatedExchange, store: Store) -> Callable[[], None]:
    """Save the paper venue in ``store`` after every change to it; returns the save, for a
    last one at exit (the venue's clock)."""

    def save() -> None:
        store.save_document(PAPER_WORLD, json.dumps(exchange.export_world()))

    exchange.on_change(save)
    return save


def build_runner(exchange: ExchangePort, clock: Clock, policy: Policy, store: Store) -> Runner:
    """The bot's main loop. Its client order ids are never seeded: one repeated across a restart
    would be answered by the exchange with the old order (Coinbase's idempotency), not a new one."""
    return Runner(exchange, clock, policy, store, ClientOrderIds())


def open_store(url: str) -> SqlStore:
    return SqlStore(url)


def build_ccxt_exchange(
    exchange_id: str, api_url: str | None, credentials: Path | None, clock: Clock
) -> ExchangePort:
    """A ccxt-backed venue (Coinbase Advanced by default). Credentials come from ``credentials``
    or the environment and stay inside the adapter."""
    # Imported here: ccxt takes a second to import, and paper runs never need it.
    from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials  # noqa: PLC0415

    return CcxtExchange(
        clock=clock, credentials=load_credentials(credentials), exchange_id=exchange_id, api_url=api_url
    )
