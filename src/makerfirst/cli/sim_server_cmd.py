"""``makerfirst sim-server``: serve a Coinbase Advanced-compatible REST API over the simulator.

Registered by the CLI's main module as ``app.command("sim-server")(sim_server)``.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.adapters.sim_server.auth import CredentialsError, generate_credentials, load_credentials
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.server import MarketSetup, SimServer, bind, build_backend
from makerfirst.adapters.sim_server.tls import TlsFiles, write_self_signed
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.clock import SystemClock
from makerfirst.domain.errors import MakerfirstError

FAULTS_HELP = (
    "Faults to inject, comma-separated key=value: "
    "latency=SECONDS (added to every request); "
    "rate429=T (HTTP 429, HTML body); "
    "error5xx=T (HTTP 503) with error5xx_body=html|json; "
    "create_timeout=T (POST /orders creates the order, holds the answer hang=SECONDS [15], then drops "
    "the connection); "
    "cancel_5xx_after_fill=T (a batch_cancel naming a filled order answers 503); "
    "seed=INT. T is a whole number N (the next N eligible requests) or a probability P in [0, 1]. "
    "Example: latency=0.05,rate429=0.1,error5xx=0.05,create_timeout=1,cancel_5xx_after_fill=1"
)

WS_FAULTS_HELP = (
    "WebSocket feed faults, comma-separated key=value: drop=P (lose a message with probability P: "
    "its sequence_num is used up, so clients see a gap); disconnect_after=N (close each connection "
    "after N messages); seed=INT. Example: drop=0.01,disconnect_after=500"
)


def _amounts(entries: list[str] | None, option: str) -> dict[str, Decimal]:
    """``["PENGU=5000", ...]`` → ``{"PENGU": Decimal("5000")}``; amounts are decimal strings."""
    amounts: dict[str, Decimal] = {}
    for entry in entries or []:
        key, sep, text = entry.partition("=")
        try:
            value = Decimal(text.strip()) if sep and key.strip() else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise typer.BadParameter(f"{option} takes NAME=AMOUNT with a decimal amount >= 0, got {entry!r}")
        amounts[key.strip()] = value
    return amounts


@contextmanager
def _stopped_by_signals(server: SimServer) -> Iterator[None]:
    """SIGINT and SIGTERM stop the server gracefully, whenever they come, and exit 0.

    Installed before the banner, so a signal that beats uvicorn's own handlers still stops it;
    uvicorn re-raises the signals it handled to these once it has shut down.
    """

    def stop(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def sim_server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8765,
    market: Annotated[str, typer.Option("--market", help="Market preset: liquid, thin or dead.")] = "dead",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the markets and the order ids.")] = 1,
    balance: Annotated[
        list[str] | None, typer.Option("--balance", help="Starting balance CUR=AMOUNT (repeatable).")
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="Starting mid PRODUCT=PRICE (repeatable; default: reference price)."),
    ] = None,
    products_file: Annotated[
        Path | None,
        typer.Option("--products-file", help="Coinbase /products JSON (default: the embedded catalogue)."),
    ] = None,
    credentials_out: Annotated[
        Path | None,
        typer.Option(
            "--credentials-out",
            help="Write a new key to DIR/credentials.json (mode 0600). Default: a temporary directory.",
        ),
    ] = None,
    credentials_in: Annotated[
        Path | None, typer.Option("--credentials-in", help="Accept this existing CDP key file instead.")
    ] = None,
    faults: Annotated[str | None, typer.Option("--faults", help=FAULTS_HELP)] = None,
    audit_file: Annotated[
        Path | None, typer.Option("--audit-file", help="Append every order and fill change as JSON lines.")
    ] = None,
    ws_faults: Annotated[str | None, typer.Option("--ws-faults", help=WS_FAULTS_HELP)] = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve HTTPS and WSS with a self-signed certificate made at start (its path is printed: "
            "give it to clients as their CA file, e.g. REQUESTS_CA_BUNDLE for Coinbase's SDK).",
        ),
    ] = False,
) -> None:
    """Serve Coinbase Advanced's REST API and WebSocket feed over the simulated exchange, in real
    time, until Ctrl-C.

    Point ccxt's urls.api.rest (or the SDK's base_url) at the printed URL, WebSocket clients at the
    printed ws:// URL, and use the printed key file; GET /audit shows every order and fill.
    """
    if credentials_in is not None and credentials_out is not None:
        raise typer.BadParameter("give --credentials-in or --credentials-out, not both")
    try:
        plan = FaultPlan.parse(faults or "")
        feed_faults = FeedFaults.parse(ws_faults or "")
    except ValueError as bad:
        raise typer.BadParameter(str(bad)) from None
    balances, prices = _amounts(balance, "--balance"), _amounts(price, "--price")
    scratch: Path | None = None  # a key (and certificate) directory we made, removed when the server stops
    tls_files: TlsFiles | None = None
    try:
        setup = MarketSetup(load_catalogue(products_file), market, seed, balances, prices)
        if credentials_in is not None:
            credentials, key_path = load_credentials(credentials_in), credentials_in
        else:
            key_dir = credentials_out or Path(tempfile.mkdtemp(prefix="makerfirst-sim-"))
            scratch = None if credentials_out else key_dir
            credentials = generate_credentials()
            key_path = credentials.write(key_dir)
        if tls:
            tls_dir = scratch or Path(tempfile.mkdtemp(prefix="makerfirst-sim-tls-"))
            scratch = tls_dir
            tls_files = write_self_signed(tls_dir / "tls")
        backend = build_backend(setup, credentials, SystemClock(), faults=plan, audit_file=audit_file)
        sock = bind(host, port)
    except (MakerfirstError, CredentialsError, OSError) as error:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    bound_host, bound_port = sock.getsockname()[:2]
    netloc = f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
    server = SimServer(backend, feed_faults=feed_faults, tls=tls_files)
    secure = "s" if tls_files else ""
    try:
        with _stopped_by_signals(server):
            typer.echo(
                f"makerfirst sim-server on http{secure}://{netloc} (market {market}, seed {seed}); "
                f"credentials: {key_path}"
            )
            typer.echo(f"websocket feed: ws{secure}://{netloc}/ws")
            if tls_files is not None:
                typer.echo(f"TLS certificate (the CA file for clients): {tls_files.cert}")
            server.run(sockets=[sock])
    finally:
        sock.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
