"""A sim server for tests: on 127.0.0.1, an ephemeral port, fresh credentials, stopped on exit.

with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
    exchange = ccxt.async_support.coinbase({"apiKey": server.key_name, "secret": server.private_key_pem,
                                            "urls": {"api": {"rest": server.url}}})
    ...
    assert server.audit()["orders"]
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from makerfirst.adapters.products_file import Catalogue, load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.adapters.sim_server.app import SimBackend
from makerfirst.adapters.sim_server.auth import Credentials, generate_credentials, sign_request
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.ratelimit import RateLimits
from makerfirst.adapters.sim_server.server import (
    BackgroundServer,
    MarketSetup,
    SimServer,
    bind,
    build_backend,
)
from makerfirst.adapters.sim_server.tls import write_self_signed
from makerfirst.adapters.sim_server.wire import Json
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.clock import SystemClock
from makerfirst.domain.product import Product


@dataclass(frozen=True, slots=True)
class ServerHandle:
    """A running server. ``url`` is ``http://127.0.0.1:<port>`` (ccxt's ``urls.api.rest``; the SDK
    wants it without the scheme). ``exchange`` runs on the server's thread: touch it only inside
    ``with handle.session():`` (which advances it to now and excludes requests meanwhile)."""

    url: str
    credentials_path: Path
    key_name: str
    private_key_pem: str = field(repr=False)  # the key file's privateKey (base64 for an Ed25519 key)
    exchange: SimulatedExchange
    backend: SimBackend = field(repr=False)
    ws_url: str = ""  # ws://127.0.0.1:<port> (wss:// with TLS): the feed of ws.py
    ca_file: Path | None = None  # with TLS: the self-signed certificate clients must trust

    @property
    def netloc(self) -> str:
        """``127.0.0.1:<port>``: the SDK's ``base_url``."""
        return self.url.split("://", 1)[1]

    def auth_header(self, method: str, path: str) -> dict[str, str]:
        """``{"Authorization": "Bearer <JWT>"}`` for one raw HTTP request (``path`` without query)."""
        credentials = Credentials(self.key_name, self.private_key_pem)
        target = self.netloc + path
        return {"Authorization": f"Bearer {sign_request(credentials, method, target, SystemClock().now())}"}

    def audit(self) -> Json:
        """``{"orders": [...], "fills": [...]}``, the same as ``GET /audit``."""
        return self.backend.audit()

    def set_faults(self, plan: FaultPlan) -> None:
        """Inject ``plan`` from the next request on (e.g. after the client has loaded its markets)."""
        self.backend.set_faults(plan)

    @contextmanager
    def session(self) -> Iterator[SimulatedExchange]:
        with self.backend.session() as exchange:
            yield exchange


@contextmanager
def running_server(
    *,
    market: str = "dead",
    seed: int = 1,
    balances: Mapping[str, str],
    faults: FaultPlan | None = None,
    products: list[Product] | None = None,
    prices: Mapping[str, str] | None = None,
    rate_limits: RateLimits | None = None,
    credentials: Credentials | None = None,
    audit_file: Path | None = None,
    feed_faults: FeedFaults | None = None,
    tls: bool = False,
) -> Iterator[ServerHandle]:
    """Start a sim server; stop it (releasing held requests) when the block ends.

    ``products`` replaces the embedded catalogue (give each a ``prices`` entry); ``prices``
    (product id → starting mid) overrides reference prices; ``balances`` are currency → amount.
    ``credentials`` is the key to register (default: a fresh EC P-256 key); ``rate_limits``
    default to Coinbase's 30/s private and 10/s public. ``tls`` serves HTTPS and WSS with a fresh
    self-signed certificate (``handle.ca_file``); ``feed_faults`` are the WebSocket feed's.
    """
    catalogue = load_catalogue()
    if products is not None:
        by_id = {p.product_id: p for p in products}
        known = {k: v for k, v in catalogue.reference_prices.items() if k in by_id}
        catalogue = Catalogue(by_id, known, {k: v for k, v in catalogue.markets.items() if k in by_id})
    setup = MarketSetup(
        catalogue=catalogue,
        market=market,
        seed=seed,
        balances={currency: Decimal(amount) for currency, amount in balances.items()},
        prices={product_id: Decimal(price) for product_id, price in (prices or {}).items()},
    )
    key = credentials or generate_credentials()
    backend = build_backend(
        setup, key, SystemClock(), faults=faults, limits=rate_limits, audit_file=audit_file
    )
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="makerfirst-sim-") as directory:
        path = key.write(Path(directory))
        files = write_self_signed(Path(directory) / "tls") if tls else None
        server = SimServer(backend, log_level="warning", access_log=False, feed_faults=feed_faults, tls=files)
        running = BackgroundServer(server, sock)
        running.start()
        secure = "s" if tls else ""
        try:
            yield ServerHandle(
                url=f"http{secure}://127.0.0.1:{port}",
                credentials_path=path,
                key_name=key.name,
                private_key_pem=key.private_key,
                exchange=backend.exchange,
                backend=backend,
                ws_url=f"ws{secure}://127.0.0.1:{port}",
                ca_file=files.cert if files else None,
            )
        finally:
            running.stop()
