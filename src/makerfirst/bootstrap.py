"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

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


class DatabaseUrlError(MakerfirstError):
    """``--db`` names no database this process can open; the message says why and what to pass."""


DB_URL_HELP = "pass e.g. --db sqlite:///makerfirst.db or --db postgresql+psycopg://USER:PASS@HOST/DB"


def open_store(url: str) -> SqlStore:
    """The store at ``url``. Every way ``url`` can fail (not a URL, an unknown dialect, a driver
    not installed, a file that cannot be created, a server that does not answer) is one
    :class:`DatabaseUrlError` naming the URL (password hidden) and the fix."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(f"--db {url!r} is not a database URL; {DB_URL_HELP}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in {None, "", ":memory:"}:
        folder = Path(str(parsed.database)).absolute().parent  # SQLite expands no ~
        if not folder.is_dir():
            raise DatabaseUrlError(
                f"--db {shown}: the folder {folder} does not exist; create it or {DB_URL_HELP}"
            )
    try:
        return SqlStore(url)
    except NoSuchModuleError:
        raise DatabaseUrlError(
            f"--db {shown}: SQLAlchemy knows no database kind {parsed.drivername!r}; {DB_URL_HELP}"
        ) from None
    except ImportError as missing:
        raise DatabaseUrlError(
            f"--db {shown}: its driver (Python module {missing.name or '?'}) is not installed; install it or"
            f" {DB_URL_HELP}"
        ) from None
    except DBAPIError as failed:
        reason = " ".join(str(failed.orig).split()) or type(failed.orig).__name__
        if parsed.get_backend_name() == "sqlite":
            fix = "check that the file and its folder are writable"
        else:
            fix = "check that the server is running and the URL's host, port, database, user and password"
        raise DatabaseUrlError(f"--db {shown}: cannot open the database ({reason}); {fix}") from None
    except SQLAlchemyError as failed:
        raise DatabaseUrlError(f"--db {shown}: {' '.join(str(failed).split())}; {DB_URL_HELP}") from None


def build_ccxt_exchange(
    exchange_id: str, api_url: str | None, credentials: Path | None, clock: Clock, *, live: bool = False
) -> ExchangePort:
    """A ccxt-backed venue (Coinbase Advanced by default), pointed at ``api_url`` when given.

    Nothing is connected and no credential is read before the live guard has judged every host
    the exchange would reach: a host outside this machine needs ``live``. Credentials come from
    ``credentials`` or the environment and stay inside the adapter."""
    # Imported here: ccxt takes a second to import, and paper runs never need it.
    from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials  # noqa: PLC0415
    from makerfirst.adapters.ccxt_exchange.client import api_endpoints  # noqa: PLC0415
    from makerfirst.adapters.ccxt_exchange.endpoints import require_local_or_live  # noqa: PLC0415

    endpoints = api_endpoints(exchange_id, api_url)
    require_local_or_live(exchange_id, endpoints.urls, endpoints.hostname, live=live)
    return CcxtExchange(
        clock=clock, credentials=load_credentials(credentials), exchange_id=exchange_id, api_url=api_url
    )


def build_streaming_exchange(
    rest: ExchangePort,
    ws_url: str,
    credentials: Path | None,
    clock: Clock,
    products: list[str],
    *,
    live: bool = False,
) -> ExchangePort:
    """``rest`` (the Coinbase ccxt venue) with Coinbase's WebSocket feed in front: books from
    ``level2``, live orders and fill wake-ups from ``user``, REST as the fallback. The feed starts on
    the running loop; the live guard judges ``ws_url`` as it judges the REST hosts."""
    from makerfirst.adapters.ccxt_exchange import load_credentials  # noqa: PLC0415
    from makerfirst.adapters.ccxt_exchange.endpoints import require_local_or_live  # noqa: PLC0415
    from makerfirst.adapters.coinbase_stream.exchange import StreamingExchange  # noqa: PLC0415
    from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed  # noqa: PLC0415

    require_local_or_live("coinbase", [ws_url], None, live=live)
    keys = load_credentials(credentials)
    feed = CoinbaseFeed(clock=clock, products=products, credentials=keys, ws_url=ws_url)
    feed.start()
    return StreamingExchange(rest, feed)
