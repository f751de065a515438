"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from makerfirst.adapters.products_file import Catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.market import SyntheticMarket
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import MakerfirstError, ProductNotFoundError
from makerfirst.domain.intents import SellIntent
from makerfirst.execution.engine import ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.sell_loop import SellLoop, SellReport
from makerfirst.policy import Policy

WARM_UP_SEC = 5.0  # let the synthetic market trade a little before the intent arrives


@dataclass(frozen=True, slots=True)
class Simulation:
    clock: VirtualClock
    exchange: SimulatedExchange
    engine: ExecutionEngine
    sell_loop: SellLoop


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
    return Simulation(clock, exchange, engine, SellLoop(engine, exchange, clock))


async def run_simulated_sell(simulation: Simulation, intent: SellIntent) -> SellReport:
    return await simulation.sell_loop.run(intent)
