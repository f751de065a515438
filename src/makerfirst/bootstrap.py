"""The composition root: the only module that names concrete adapters.

:func:`build_app` builds the whole application (policy, store, venue and clock, logs, runner, the
dashboard) from one :class:`Settings`; the CLI and the web app only call it. The smaller
factories below (:func:`build_runner`, :func:`build_paper_exchange`, :func:`open_store`,
:func:`build_simulation`, :func:`build_sim_server`, ...) are its parts, public for tests, the
benchmarks and the one-shot commands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from makerfirst.adapters.products_file import Catalogue
from makerfirst.adapters.products_file import load_catalogue as load_catalogue  # noqa: PLC0414  # for the CLI
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.presets import PRESETS as PRESETS  # noqa: PLC0414  # for the CLI
from makerfirst.algorithms.sell_policies import SellPolicy
from makerfirst.clock import Clock, SystemClock, VirtualClock
from makerfirst.domain.errors import DatabaseUrlError, InputError, MakerfirstError, ProductNotFoundError
from makerfirst.domain.intents import TradeIntent
from makerfirst.execution.engine import ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from makerfirst.policy import Policy, load_policy
from makerfirst.ports import ExchangePort, Store

if TYPE_CHECKING:
    # SQLAlchemy, the store, the observability wiring and the runner load in the functions that
    # build them: a backtest (which builds only its replay venues here) never pays for them.
    from fastapi import FastAPI
    from sqlalchemy.engine import Engine

    from makerfirst.adapters.ccxt_exchange import CcxtExchange
    from makerfirst.adapters.sim_server.faults import FaultPlan
    from makerfirst.adapters.sim_server.server import SimServer
    from makerfirst.adapters.sim_server.ws import FeedFaults
    from makerfirst.observability import wiring
    from makerfirst.observability.alerts import AlertDispatcher
    from makerfirst.observability.logs import LogFormat
    from makerfirst.persistence.migrate import UpgradeReport
    from makerfirst.persistence.store import SqlStore
    from makerfirst.replay.backtest import ReplayVenue, SimOptions
    from makerfirst.replay.cbook import BookTape
    from makerfirst.replay.episodes import Episode
    from makerfirst.replay.venue import ArrivalBooks
    from makerfirst.runner.loop import Runner, RunSummary
    from makerfirst.web.embedded import WebBinding

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
    from makerfirst.adapters.sim.market import SyntheticMarket  # noqa: PLC0415 - not for a replay

    product = catalogue.products.get(product_id)
    if product is None:
        known = ", ".join(sorted(catalogue.products))
        raise ProductNotFoundError(
            f"unknown product {product_id!r}; known: {known} (or pass --products-file)"
        )
    params = PRESETS.get(market)
    if params is None:
        raise InputError(f"unknown market {market!r}; choose one of: {', '.join(PRESETS)}")
    start_price = price if price is not None else catalogue.reference_prices.get(product_id)
    if start_price is None or start_price <= 0:
        raise InputError(f"{product_id} has no reference price: pass --price (the starting mid)")
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
    from makerfirst.adapters.sim import world as paper_world  # noqa: PLC0415 - not for a backtest
    from makerfirst.adapters.sim.market import SyntheticMarket  # noqa: PLC0415

    if market is not None and market not in PRESETS:
        raise InputError(f"unknown market {market!r}; choose one of: {', '.join(PRESETS)}")
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
    from makerfirst.adapters.sim import world as paper_world  # noqa: PLC0415 - not for a backtest

    document = store.load_document(PAPER_WORLD)
    return None if document is None else paper_world.parse(document)


def keep_paper_world(exchange: SimulatedExchange, store: Store) -> Callable[[], None]:
    """Save the paper venue in ``store`` after every change to it; returns the save, for a
    last one at exit (the venue's clock)."""

    def save() -> None:
        store.save_document(PAPER_WORLD, json.dumps(exchange.export_world()))

    exchange.on_change(save)
    return save


def build_runner(
    exchange: ExchangePort,
    clock: Clock,
    policy: Policy,
    store: Store,
    ids: ClientOrderIds | None = None,
    *,
    sell_policy: SellPolicy | None = None,
) -> Runner:
    """The bot's main loop with its collaborators, every one talking to the venue through the same
    :class:`MeteredExchange`. Its client order ids are never seeded by default: one repeated across a
    restart would be answered by the exchange with the old order (Coinbase's idempotency), not a new one.
    ``sell_policy``: what its sell loops run (None: the design note's; see ``purge_sell_policy``)."""
    from makerfirst.execution.reconcile import Reconciler  # noqa: PLC0415
    from makerfirst.runner.loop import Runner  # noqa: PLC0415
    from makerfirst.runner.metered import MeteredExchange  # noqa: PLC0415
    from makerfirst.runner.portfolio_step import PortfolioStep  # noqa: PLC0415

    metered = MeteredExchange(exchange, clock)
    engine = ExecutionEngine(metered, clock, policy, ids or ClientOrderIds(), journal=store)
    return Runner(
        exchange=metered,
        clock=clock,
        policy=policy,
        store=store,
        twap_loop=TwapLoop(engine, metered, clock, store, policy=sell_policy),
        reconciler=Reconciler(metered, store, clock, policy.execution),
        portfolio=PortfolioStep(metered, store, policy),
    )


DB_URL_HELP = "pass e.g. --db sqlite:///makerfirst.db or --db postgresql+psycopg://USER:PASS@HOST/DB"


def open_store(url: str) -> SqlStore:
    """The store at ``url``. Every way ``url`` can fail (not a URL, an unknown dialect, a driver
    not installed, a file that cannot be created, a server that does not answer) is one
    :class:`DatabaseUrlError` naming the URL (password hidden) and the fix."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError  # noqa: PLC0415

    from makerfirst.persistence.store import SqlStore  # noqa: PLC0415

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
) -> CcxtExchange:
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


# -- the application: everything one process runs, from one settings object ----------------------
DEFAULT_DB_URL = "sqlite:///makerfirst.db"


@dataclass(frozen=True, slots=True)
class PaperVenue:
    """The in-process simulator (``--paper``). ``balances`` empty: the demo portfolio."""

    fast: bool = False  # a virtual clock: cycles take no wall time
    market: str | None = None  # one preset for every product instead of each its own
    seed: int = 1
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    products_file: Path | None = None


@dataclass(frozen=True, slots=True)
class ExchangeVenue:
    """A ccxt exchange (``--exchange``), at ``api_url`` when given; a host outside this machine
    needs ``live``. Credentials from the file, else the environment."""

    exchange_id: str
    api_url: str | None = None
    credentials: Path | None = None
    live: bool = False
    stream: bool = False  # Coinbase's WebSocket feed in front of REST (``--stream``)
    ws_url: str | None = None  # the feed's URL; None: derived from ``api_url``


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Where the bot's lines go: ``stream`` and optionally a rotated file, as text (rendered by
    ``formatter``, e.g. the CLI's transcript) or JSON."""

    stream: TextIO
    log_format: LogFormat = "text"
    log_file: Path | None = None
    formatter: logging.Formatter | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything :func:`build_app` needs. ``venue`` None: a process over the database only (status,
    the read-only dashboard). ``web``: the dashboard served beside the running bot."""

    db: str = DEFAULT_DB_URL
    venue: PaperVenue | ExchangeVenue | None = None
    policy_path: Path | None = None  # None: the shipped policy
    policy_overrides: tuple[str, ...] = ()
    logs: LogSettings | None = None
    web: WebBinding | None = None


@dataclass(eq=False)
class App:
    """The built application. It owns the venue's lifetime (closed when :meth:`run` ends, or by
    :meth:`close`), the store, the logging it installed and the dashboard's resources."""

    settings: Settings
    store: SqlStore
    clock: Clock
    venue: ExchangePort | None = None
    runner: Runner | None = None
    observability: wiring.Observability | None = None
    notices: tuple[str, ...] = ()  # what the operator should be told about how it was built
    _release: Callable[[], Awaitable[None]] | None = None  # closes the venue (keeps the paper world)
    _owned: list[Callable[[], None]] = field(default_factory=list)  # closed last, in reverse

    async def run(
        self, cycles: int | None, cycle_sec: float, announce: Callable[[str], None] = lambda _line: None
    ) -> RunSummary:
        """Run the bot (with the dashboard beside it if ``settings.web``), then close the venue,
        also when the run fails or is cancelled (Ctrl-C)."""
        if self.runner is None:
            raise MakerfirstError("this application was built without a venue: nothing to run")
        try:
            at = self.settings.web
            if at is None:
                return await self.runner.run(cycles, cycle_sec)
            from makerfirst.web.embedded import served_beside  # noqa: PLC0415  # web stack only if asked

            async with served_beside(self.dashboard(at.token), at):
                announce(f"dashboard: http://{at.host}:{at.port}/ (sign in with $MAKERFIRST_WEB_TOKEN)")
                return await self.runner.run(cycles, cycle_sec)
        finally:
            await self.release_venue()

    async def release_venue(self) -> None:
        """Close the venue once: save the paper world, or close the live client's connections."""
        release, self._release = self._release, None
        if release is not None:
            await release()

    def dashboard(self, token: str) -> FastAPI:
        """The dashboard and REST API over this app's store. Beside a running bot its clock dates
        the pages and its kill switch halts the runner; without one the switch only persists the
        paused state, which the bot writing the database honours at its next cycle."""
        from makerfirst.web.app import create_app  # noqa: PLC0415  # FastAPI only when asked for
        from makerfirst.web.control import KillSwitch  # noqa: PLC0415
        from makerfirst.web.data import DashboardData  # noqa: PLC0415

        data = DashboardData(self.store, self._read_engine(), self.clock.now if self.runner else None)
        halt = self.runner.halt if self.runner is not None else None
        kill_switch = KillSwitch(data, self.clock.now, halt, self._alerts())
        return create_app(data, token, kill_switch, clock=SystemClock())  # pages stream in real time

    def bot_stopped(self, why: str) -> None:
        if self.observability is not None:
            self.observability.bot_stopped(why)

    def close(self) -> None:
        """Release everything, venue included (if :meth:`run` did not already)."""
        if self._release is not None:
            asyncio.run(self.release_venue())
        if self.observability is not None:
            self.observability.close()
            self.observability = None
        while self._owned:
            self._owned.pop()()
        self.store.close()

    def _read_engine(self) -> Engine:
        if self.observability is not None:
            return self.observability.engine
        from sqlalchemy import create_engine  # noqa: PLC0415

        engine = create_engine(self.settings.db, future=True)
        self._owned.append(engine.dispose)
        return engine

    def _alerts(self) -> AlertDispatcher | None:
        if self.observability is not None:
            return self.observability.alerts
        from makerfirst.observability.alerts import AlertDispatcher, AlertSettings  # noqa: PLC0415

        settings = AlertSettings.from_env()
        if not settings.enabled:
            return None
        alerts = AlertDispatcher(settings)
        self._owned.append(alerts.close)
        return alerts


def build_app(settings: Settings) -> App:
    """Build the whole application from ``settings``: the policy, the store, the venue and its
    clock, the logs, the runner. Raises :class:`PolicyError` or another :class:`InputError` for bad
    settings, before anything is left open."""
    venue_settings = settings.venue
    policy = None if venue_settings is None else load_policy(settings.policy_path, settings.policy_overrides)
    store = open_store(settings.db)
    try:
        if venue_settings is None or policy is None:
            return App(settings, store, SystemClock())
        # Before the venue, so glft's missing curves refuse the start with nothing open but the store;
        # the curves' age is a calendar matter, on the wall clock even for a --fast paper run.
        purges, notices = _purge_sell_policy(policy)
        clock: Clock
        if isinstance(venue_settings, PaperVenue):
            clock = VirtualClock() if venue_settings.fast else SystemClock()
            venue, release = _paper_venue(venue_settings, store, clock, settings.db, notices)
        else:
            clock = SystemClock()
            venue, release = _exchange_venue(venue_settings, clock)
        observability = None
        if settings.logs is not None:
            logs = settings.logs
            from makerfirst.observability import wiring  # noqa: PLC0415

            observability = wiring.install(
                settings.db,
                stream=logs.stream,
                log_format=logs.log_format,
                log_file=logs.log_file,
                now=clock.now,
                inner=logs.formatter,
            )
        runner = build_runner(venue, clock, policy, store, sell_policy=purges)
        return App(settings, store, clock, venue, runner, observability, tuple(notices), release)
    except BaseException:
        store.close()
        raise


def _purge_sell_policy(policy: Policy) -> tuple[SellPolicy | None, list[str]]:
    """What purges run with (None: the design note's loop) and what the operator is told of it."""
    if policy.portfolio_management.purge_execution.sell_policy == "design_note":
        return None, []
    # Only when asked for: the curves' module pulls numpy and the fitting code.
    from makerfirst.replay.estimates import purge_sell_policy  # noqa: PLC0415

    chosen = purge_sell_policy(policy, SystemClock().now())
    return chosen.policy, list(chosen.notices)


def _paper_venue(
    paper: PaperVenue, store: SqlStore, clock: Clock, db: str, notices: list[str]
) -> tuple[ExchangePort, Callable[[], Awaitable[None]]]:
    """The simulated venue: the world kept in ``store`` if there is one, else a new one; released
    by saving it one last time (at the venue's clock)."""
    world = load_paper_world(store)
    if world is not None:
        ignored = "; --balance ignored (another --db starts a new one)" if paper.balances else ""
        notices.append(f"paper: continuing the simulated venue kept in {db}{ignored}")
    venue = build_paper_exchange(
        catalogue=load_catalogue(paper.products_file),
        clock=clock,
        market=paper.market,
        seed=paper.seed,
        balances=dict(paper.balances) or dict(DEMO_BALANCES),
        world=world,
    )
    save = keep_paper_world(venue, store)

    async def release() -> None:
        save()

    return venue, release


def _exchange_venue(
    exchange: ExchangeVenue, clock: Clock
) -> tuple[ExchangePort, Callable[[], Awaitable[None]]]:
    ws_url = _feed_url(exchange) if exchange.stream else None  # judged before any credential is read
    venue = build_ccxt_exchange(
        exchange.exchange_id, exchange.api_url, exchange.credentials, clock, live=exchange.live
    )
    if ws_url is None:
        return venue, venue.close
    streaming = build_streaming_exchange(venue, ws_url, exchange.credentials, clock, [], live=exchange.live)
    close: Callable[[], Awaitable[None]] = streaming.close  # type: ignore[attr-defined]
    return streaming, close


# -- the Coinbase-compatible sim-server (``makerfirst sim-server``) -------------------------------
@dataclass(eq=False)
class SimServerRun:
    """A sim-server bound to its socket, with the key file its clients use. :meth:`close` frees the
    socket and removes a key directory made for this run."""

    server: SimServer
    sock: socket.socket
    key_path: Path
    scratch: Path | None = None
    tls_cert: Path | None = None  # --tls: the self-signed certificate clients trust (their CA file)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls_cert is not None else 'ws'}://{self.netloc}/ws"

    @property
    def netloc(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def serve(self) -> None:
        self.server.run(sockets=[self.sock])

    def close(self) -> None:
        self.sock.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def parse_faults(text: str) -> FaultPlan:
    """``--faults`` → the plan; ``ValueError`` naming the bad entry."""
    from makerfirst.adapters.sim_server.faults import FaultPlan  # noqa: PLC0415  # the server stack

    return FaultPlan.parse(text)


def parse_feed_faults(text: str) -> FeedFaults:
    """``--ws-faults`` → the WebSocket feed's faults; ``ValueError`` naming the bad entry."""
    from makerfirst.adapters.sim_server.ws import FeedFaults  # noqa: PLC0415  # the server stack

    return FeedFaults.parse(text)


def fault_routes() -> tuple[str, ...]:
    """The route names ``--faults KIND@ROUTE=T`` accepts (for the sim-server's help)."""
    from makerfirst.adapters.sim_server.faults import ROUTES  # noqa: PLC0415  # the server stack

    return tuple(ROUTES)


def build_sim_server(  # one keyword per command-line option
    *,
    host: str,
    port: int,
    market: str,
    seed: int,
    balances: dict[str, Decimal],
    prices: dict[str, Decimal],
    products_file: Path | None,
    credentials_in: Path | None,
    credentials_out: Path | None,
    faults: FaultPlan,
    audit_file: Path | None,
    feed_faults: FeedFaults | None = None,
    tls: bool = False,
) -> SimServerRun:
    """The simulated exchange behind Coinbase Advanced's REST API and WebSocket feed, in real time.
    Its key: the file ``credentials_in``, else a new one written to ``credentials_out`` (else a
    temporary directory, removed at close); ``tls``: HTTPS and WSS with a self-signed certificate
    made for this run. Raises :class:`MakerfirstError` (``CredentialsError`` included) or ``OSError``."""
    from makerfirst.adapters.sim_server import auth  # noqa: PLC0415  # the server stack
    from makerfirst.adapters.sim_server import server as sim_server  # noqa: PLC0415
    from makerfirst.adapters.sim_server.tls import write_self_signed  # noqa: PLC0415

    scratch: Path | None = None
    try:
        setup = sim_server.MarketSetup(load_catalogue(products_file), market, seed, balances, prices)
        if credentials_in is not None:
            credentials, key_path = auth.load_credentials(credentials_in), credentials_in
        else:
            key_dir = credentials_out or Path(tempfile.mkdtemp(prefix="makerfirst-sim-"))
            scratch = None if credentials_out else key_dir
            credentials = auth.generate_credentials()
            key_path = credentials.write(key_dir)
        tls_files = None
        if tls:
            scratch = scratch or Path(tempfile.mkdtemp(prefix="makerfirst-sim-tls-"))
            tls_files = write_self_signed(scratch / "tls")
        backend = sim_server.build_backend(
            setup, credentials, SystemClock(), faults=faults, audit_file=audit_file
        )
        sock = sim_server.bind(host, port)
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    server = sim_server.SimServer(backend, feed_faults=feed_faults, tls=tls_files)
    return SimServerRun(server, sock, key_path, scratch, tls_files.cert if tls_files else None)


# -- schema upgrades (``makerfirst db upgrade``) ---------------------------------------------------
def upgrade_database(url: str) -> tuple[str, UpgradeReport]:
    """Bring the database at ``url`` to the newest schema; returns the URL as shown (password
    hidden) and what was done. A bad URL or a failed upgrade is a :class:`DatabaseUrlError`."""
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError  # noqa: PLC0415

    from makerfirst.persistence import migrate  # noqa: PLC0415  # Alembic only for this command

    try:
        engine = create_engine(url, future=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as bad:
        raise DatabaseUrlError(f"--db {url!r} is not a database URL ({bad}); e.g. {DEFAULT_DB_URL}") from None
    shown = engine.url.render_as_string(hide_password=True)
    try:
        return shown, migrate.upgrade_database(engine)
    except SQLAlchemyError as failed:
        reason = str(getattr(failed, "orig", None) or failed).splitlines()[0]
        raise DatabaseUrlError(f"--db {shown}: cannot upgrade: {reason}") from None
    finally:
        engine.dispose()


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
    the first call made on a running loop; closing the venue stops it and closes ``rest``. The live
    guard judges ``ws_url`` as it judges the REST hosts."""
    from makerfirst.adapters.ccxt_exchange import load_credentials  # noqa: PLC0415
    from makerfirst.adapters.ccxt_exchange.endpoints import require_local_or_live  # noqa: PLC0415
    from makerfirst.adapters.coinbase_stream.exchange import StreamingExchange  # noqa: PLC0415
    from makerfirst.adapters.coinbase_stream.feed import CoinbaseFeed  # noqa: PLC0415

    require_local_or_live("coinbase", [ws_url], None, live=live)
    keys = load_credentials(credentials)
    feed = CoinbaseFeed(clock=clock, products=products, credentials=keys, ws_url=ws_url)
    return StreamingExchange(rest, feed, clock)


def _feed_url(exchange: ExchangeVenue) -> str:
    """``--stream``'s feed: ``--ws-url``, else the one that goes with ``--api-url``
    (``adapters.coinbase_stream.urls``); only Coinbase has one. The live guard judges it."""
    from makerfirst.adapters.ccxt_exchange.endpoints import require_local_or_live  # noqa: PLC0415
    from makerfirst.adapters.coinbase_stream.urls import check_feed_url, feed_url_of  # noqa: PLC0415

    if exchange.exchange_id != "coinbase":
        raise InputError(
            f"--stream: {exchange.exchange_id} has no WebSocket adapter (only coinbase streams);"
            " drop --stream to poll it over REST"
        )
    ws_url = check_feed_url(exchange.ws_url) if exchange.ws_url else feed_url_of(exchange.api_url)
    require_local_or_live("coinbase", [ws_url], None, live=exchange.live)
    return ws_url


# -- replay backtests -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReplayVenueFactory:
    """The replay venues ``makerfirst backtest`` runs on (``replay.backtest.ReplayVenues``): under
    the conservative model the compiled book (``replay.venue.CompiledReplayExchange``), each
    episode's book restored from a checkpoint of one pass over the tape; under the other fill
    models, or with ``--replay-book oracle``, the pure-Python ``ReplayBook`` (``ReplayExchange``).
    Stateless, so a sweep's worker processes receive it pickled. Its modules load when first used."""

    def arrival_books(
        self, tape: BookTape, arrivals: Sequence[float], options: SimOptions
    ) -> ArrivalBooks | None:
        if not options.compiled_replay:
            return None  # the oracle replays each episode's prefix itself
        from makerfirst.replay.venue import arrival_checkpoints  # noqa: PLC0415

        return arrival_checkpoints(tape, arrivals, feed_latency_sec=options.feed_latency_sec)

    def open(
        self,
        clock: VirtualClock,
        venue: ReplayVenue,
        episode: Episode,
        balances: dict[str, Decimal],
        options: SimOptions,
    ) -> SimulatedExchange:
        settings = options.settings(episode.seed)
        if options.compiled_replay:
            from makerfirst.replay.venue import CompiledReplayExchange  # noqa: PLC0415

            books = venue.arrivals
            return CompiledReplayExchange(
                clock,
                venue.product,
                venue.compiled_tape(),
                balances,
                # An episode drawn elsewhere (not at a planned arrival) catches up from the start.
                checkpoint=None if books is None else books.by_arrival.get(episode.arrival),
                settings=settings,
                feed_latency_sec=options.feed_latency_sec,
                times=None if books is None else books.times,
            )
        from makerfirst.replay.driver import ReplayExchange  # noqa: PLC0415

        return ReplayExchange(
            clock,
            venue.product,
            venue.tape,
            balances,
            fill_model=options.fill_model,
            settings=settings,
            feed_latency_sec=options.feed_latency_sec,
        )


def build_replay_venues() -> ReplayVenueFactory:
    """The replay venues of backtests (handed to them as ``SimOptions.replay_venues``)."""
    return ReplayVenueFactory()
