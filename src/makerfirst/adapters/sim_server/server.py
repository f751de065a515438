"""Compose the sim server (exchange + synthetic markets + keys) and run it on uvicorn.

One :class:`SimulatedExchange` on the system clock: the server is a real venue in real time.
Its request latency is zero (the fault plan adds latency instead) and an accepted cancel stays
``CANCEL_QUEUED`` for ``cancel_queue_sec``, so clients meet that status as they do on Coinbase.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from makerfirst.adapters.products_file import Catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.market import SyntheticMarket
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.adapters.sim_server.app import SimBackend, build_app
from makerfirst.adapters.sim_server.auth import Credentials
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.ratelimit import RateLimits
from makerfirst.adapters.sim_server.tls import TlsFiles
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.clock import Clock
from makerfirst.domain.errors import MakerfirstError

WARM_UP_SEC = 5.0  # the markets start this far in the past, so the first request sees a traded book
CANCEL_QUEUE_SEC = 0.05
STARTUP_TIMEOUT_SEC = 10.0


@dataclass(frozen=True, slots=True)
class MarketSetup:
    """Which products trade and how: each one driven by the ``market`` preset from its price."""

    catalogue: Catalogue
    market: str = "dead"
    seed: int = 1
    balances: dict[str, Decimal] | None = None
    prices: dict[str, Decimal] | None = None  # overrides the catalogue's reference prices


def build_exchange(setup: MarketSetup, clock: Clock) -> SimulatedExchange:
    """The exchange with every catalogue product on a seeded synthetic market, warmed up to now."""
    params = PRESETS.get(setup.market)
    if params is None:
        raise MakerfirstError(f"unknown market {setup.market!r}; choose one of: {', '.join(PRESETS)}")
    prices = {**setup.catalogue.reference_prices, **(setup.prices or {})}
    unknown = sorted(set(setup.prices or {}) - set(setup.catalogue.products))
    if unknown:
        raise MakerfirstError(f"--price for unknown product(s): {', '.join(unknown)}")
    unpriced = sorted(p for p in setup.catalogue.products if prices.get(p, Decimal(0)) <= 0)
    if unpriced:
        raise MakerfirstError(f"no starting price for {', '.join(unpriced)}: pass --price PRODUCT=PRICE")
    settings = SimulatorSettings(request_latency_sec=0, cancel_queue_sec=CANCEL_QUEUE_SEC, seed=setup.seed)
    products = list(setup.catalogue.products.values())
    exchange = SimulatedExchange(clock, products, dict(setup.balances or {}), settings)
    start = clock.now() - WARM_UP_SEC
    for product in products:
        market = SyntheticMarket(product, params, prices[product.product_id], start, setup.seed)
        exchange.attach_market(product.product_id, market)
    exchange.advance()
    return exchange


def build_backend(
    setup: MarketSetup,
    credentials: Credentials,
    clock: Clock,
    *,
    faults: FaultPlan | None = None,
    limits: RateLimits | None = None,
    audit_file: Path | None = None,
) -> SimBackend:
    """The server's state: the exchange, and ``credentials``' public key registered under its name."""
    return SimBackend(
        build_exchange(setup, clock),
        clock,
        list(setup.catalogue.products.values()),
        {credentials.name: credentials.public_key()},
        faults=faults,
        limits=limits,
        audit_file=audit_file,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0 picks a free one: read it from ``getsockname()``)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class SimServer(uvicorn.Server):
    """uvicorn serving the backend's app. On shutdown it first releases requests that faults hold,
    so a ``create_timeout`` in flight never delays the exit."""

    def __init__(
        self,
        backend: SimBackend,
        *,
        log_level: str = "info",
        access_log: bool = True,
        feed_faults: FeedFaults | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        # Pure-Python HTTP and the stock event loop: the same behaviour wherever it runs.
        config = uvicorn.Config(
            build_app(backend, feed_faults),
            http="h11",
            ws="websockets-sansio",
            loop="asyncio",
            log_level=log_level,
            access_log=access_log,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
        super().__init__(config)
        self.backend = backend
        self.ready = threading.Event()  # set once startup has finished (well or not)
        backend.set_connection_killer(self._kill_connection)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.backend.stop()
        await super().shutdown(sockets)

    def _kill_connection(self, host: str, port: int) -> None:
        for connection in list(self.server_state.connections):
            if isinstance(connection, H11Protocol) and connection.client == (host, port):
                connection.transport.abort()


class BackgroundServer:
    """A :class:`SimServer` on its own thread; :meth:`start` returns once it accepts requests."""

    def __init__(self, server: SimServer, sock: socket.socket) -> None:
        self.server = server
        self._sock = sock
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sim-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        if not self.server.ready.wait(STARTUP_TIMEOUT_SEC) or not self.server.started:
            self.stop()
            raise RuntimeError("the sim server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STARTUP_TIMEOUT_SEC)
        self._sock.close()
