"""``makerfirst sim-server``: serve a Coinbase Advanced-compatible REST API over the simulator.

Registered by the CLI's main module as ``app.command("sim-server")(sim_server)``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from makerfirst import bootstrap
from makerfirst.domain.errors import MakerfirstError

FAULTS_HELP = (
    "Faults to inject, comma-separated key=value: "
    "latency=SECONDS (added to every request); "
    "rate429=T (HTTP 429, HTML body); "
    "error5xx=T (HTTP 503) with error5xx_body=html|json; "
    "create_timeout=T (POST /orders creates the order, holds the answer hang=SECONDS [15], then drops "
    "the connection); "
    "cancel_5xx_after_fill=T (a batch_cancel naming a filled order answers 503); "
    "stall=T (any request is held hang=SECONDS, never served, then its connection dropped); "
    "KIND@ROUTE=T (rate429, error5xx or stall on one route only, e.g. error5xx@fills=3; routes: "
    f"{', '.join(bootstrap.fault_routes())}); "
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
def _stopped_by_signals(run: bootstrap.SimServerRun) -> Iterator[None]:
    """SIGINT and SIGTERM stop the server gracefully, whenever they come, and exit 0.

    Installed before the banner, so a signal that beats uvicorn's own handlers still stops it;
    uvicorn re-raises the signals it handled to these once it has shut down.
    """

    def stop(_signal: int, _frame: FrameType | None) -> None:
        run.server.should_exit = True

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
        plan = bootstrap.parse_faults(faults or "")
        feed_faults = bootstrap.parse_feed_faults(ws_faults or "")
    except ValueError as bad:
        raise typer.BadParameter(str(bad)) from None
    balances, prices = _amounts(balance, "--balance"), _amounts(price, "--price")
    try:
        run = bootstrap.build_sim_server(
            host=host,
            port=port,
            market=market,
            seed=seed,
            balances=balances,
            prices=prices,
            products_file=products_file,
            credentials_in=credentials_in,
            credentials_out=credentials_out,
            faults=plan,
            audit_file=audit_file,
            feed_faults=feed_faults,
            tls=tls,
        )
    except (MakerfirstError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        with _stopped_by_signals(run):
            typer.echo(
                f"makerfirst sim-server on {run.scheme}://{run.netloc} (market {market}, seed {seed}); "
                f"credentials: {run.key_path}"
            )
            typer.echo(f"websocket feed: {run.ws_url}")
            if run.tls_cert is not None:
                typer.echo(f"TLS certificate (the CA file for clients): {run.tls_cert}")
            run.serve()
    finally:
        run.close()
