"""``makerfirst run``: the main loop, on paper (the default) or against a Coinbase-compatible API."""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from makerfirst import bootstrap
from makerfirst.cli.errors import INPUT_ERROR_EXIT, fail
from makerfirst.cli.status_cmd import holding_json
from makerfirst.cli.transcript import TranscriptFormatter
from makerfirst.domain.errors import AuthenticationError, MakerfirstError
from makerfirst.domain.money import plain
from makerfirst.observability.logs import LOG_FORMATS, LogFormat
from makerfirst.policy import PolicyError, default_policy_path
from makerfirst.ports import HistoryStore
from makerfirst.runner.loop import RunSummary

if TYPE_CHECKING:
    from makerfirst.web.embedded import WebBinding


def parse_balances(items: list[str] | None) -> dict[str, Decimal]:
    """``--balance PENGU=1116`` → {"PENGU": Decimal("1116")}."""
    balances: dict[str, Decimal] = {}
    for item in items or []:
        currency, sep, amount = item.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal(-1)
        if not sep or not currency.strip() or not value.is_finite() or value < 0:
            raise typer.BadParameter(
                f"--balance expects CURRENCY=AMOUNT with a non-negative amount, got {item!r}"
            )
        balances[currency.strip().upper()] = value
    return balances


def run(
    cycles: Annotated[
        int | None, typer.Option("--cycles", min=1, help="Run this many cycles, then stop.")
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="Run until interrupted (implied by --web without --cycles).")
    ] = False,
    cycle_sec: Annotated[float, typer.Option("--cycle-sec", min=1, help="Cycle length in seconds.")] = 60.0,
    paper: Annotated[
        bool, typer.Option("--paper", help="The in-process simulated exchange (the default).")
    ] = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Paper only: run on a virtual clock (no waiting).")
    ] = False,
    exchange: Annotated[
        str | None, typer.Option("--exchange", help="A ccxt exchange id, e.g. coinbase (instead of paper).")
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Base URL every API request of the exchange goes to (e.g. a sim-server on 127.0.0.1).",
        ),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help="CDP key file; else COINBASE_API_KEY_NAME/_PRIVATE_KEY."),
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Required for any venue outside this machine (not loopback).")
    ] = False,
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy URL of the state database.")
    ] = "sqlite:///makerfirst.db",
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy YAML (default: shipped).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a policy key.")] = None,
    market: Annotated[
        str | None,
        typer.Option("--market", help="Paper: one market preset for every product (default: per product)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Paper: seed.")] = 1,
    balance: Annotated[
        list[str] | None, typer.Option("--balance", help="Paper: CUR=AMOUNT, repeatable.")
    ] = None,
    products_file: Annotated[
        Path | None, typer.Option("--products-file", help="Paper: product specs.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = False,
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Also log to this file (rotated at 10 MB, 10 kept).")
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text (the transcript) or json.")] = "text",
    web: Annotated[
        str | None, typer.Option("--web", help="Serve the dashboard at HOST:PORT while running.")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Coinbase only: books and order updates from its WebSocket feed, REST as the fallback.",
        ),
    ] = False,
    ws_url: Annotated[
        str | None,
        typer.Option(
            "--ws-url",
            help="With --stream: the feed's URL (default: ws(s)://HOST:PORT/ws of --api-url, or Coinbase's).",
        ),
    ] = None,
    fill_curves: Annotated[
        Path | None,
        typer.Option(
            "--fill-curves",
            help="Fill curves from `makerfirst calibrate` (sets purge_execution.fill_curves; for"
            " --set portfolio_management.purge_execution.sell_policy=glft).",
        ),
    ] = None,
) -> None:
    """Run the bot: each cycle refreshes balances, reconciles, purges the policy's `purge:` list."""
    loop = _check_options(
        cycles=cycles,
        loop=loop,
        web=web,
        paper=paper,
        fast=fast,
        exchange=exchange,
        api_url=api_url,
        log_format=log_format,
    )
    _check_stream(stream=stream, ws_url=ws_url, exchange=exchange)
    venue: bootstrap.PaperVenue | bootstrap.ExchangeVenue
    if exchange is None:
        venue = bootstrap.PaperVenue(
            fast=fast, market=market, seed=seed, balances=parse_balances(balance), products_file=products_file
        )
    else:
        venue = bootstrap.ExchangeVenue(exchange, api_url, credentials, live, stream=stream, ws_url=ws_url)
    app: bootstrap.App | None = None
    try:
        web_at = _web_binding(web) if web else None
        if policy is None and exchange is None:
            policy = default_policy_path("demo-policy.yaml")
            typer.echo(
                f"paper demo: policy {policy} (targets BTC 40 %, ETH 30 %); --policy for yours", err=True
            )
        logs = bootstrap.LogSettings(
            stream=sys.stderr if as_json else sys.stdout,
            log_format=cast(LogFormat, log_format),
            log_file=log_file,
            formatter=TranscriptFormatter(tag_products=True),
        )
        settings = bootstrap.Settings(
            db=db,
            venue=venue,
            policy_path=policy,
            policy_overrides=(*_fill_curves_override(fill_curves), *(overrides or ())),
            logs=logs,
            web=web_at,
        )
        app = bootstrap.build_app(settings)
        for notice in app.notices:
            typer.echo(notice, err=True)
        summary = asyncio.run(app.run(cycles, cycle_sec, announce=lambda line: typer.echo(line, err=True)))
        app.bot_stopped(f"finished {len(summary.cycles)} cycles")
        if as_json:
            typer.echo(json.dumps(_summary_json(summary, app.store), indent=2))
    except PolicyError as error:
        for problem in error.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(INPUT_ERROR_EXIT) from None
    except AuthenticationError as error:
        # In --loop too: a wrong key or missing permission fails every later cycle the same way.
        raise fail(
            f"authentication failed, the bot stopped: {error}",
            "fix the key (--credentials FILE, or COINBASE_API_KEY_NAME and COINBASE_API_PRIVATE_KEY)"
            " and its permissions",
        ) from None
    except MakerfirstError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: open orders are GTD and expire on their own; the next start reconciles", err=True
        )
        raise typer.Exit(130) from None
    finally:
        if app is not None:
            app.close()


def _check_options(
    *,
    cycles: int | None,
    loop: bool,
    web: str | None,
    paper: bool,
    fast: bool,
    exchange: str | None,
    api_url: str | None,
    log_format: str,
) -> bool:
    """Refuse contradictory options; return whether to loop (a bot served to a dashboard without
    ``--cycles`` runs until the operator stops it: Ctrl-C or the kill switch)."""
    if web is not None and cycles is None:
        loop = True
    if (cycles is None) == (not loop):
        raise typer.BadParameter("give exactly one of --cycles N or --loop")
    if paper and exchange:
        raise typer.BadParameter("--paper and --exchange exclude each other")
    if exchange is None and api_url is not None:
        raise typer.BadParameter("--api-url needs --exchange (e.g. --exchange coinbase): paper is in-process")
    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(f"--log-format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    if fast and exchange is not None:
        raise typer.BadParameter("--fast runs the paper exchange only")
    return loop


def _check_stream(*, stream: bool, ws_url: str | None, exchange: str | None) -> None:
    """``--stream`` is Coinbase's WebSocket feed: the paper venue is in-process (nothing to stream
    from) and other exchanges have no feed adapter. Each refusal is one ``error:`` line."""
    if ws_url is not None and not stream:
        raise fail("--ws-url is the URL of the --stream feed", "add --stream")
    if not stream:
        return
    if exchange is None:
        raise fail(
            "--stream needs --exchange coinbase: the paper venue is in-process and has no feed to stream",
            "drop --stream for a paper run",
        )
    if exchange != "coinbase":
        raise fail(
            f"--stream: {exchange} has no WebSocket adapter (only coinbase streams)",
            "drop --stream to poll it over REST",
        )


def _fill_curves_override(path: Path | None) -> tuple[str, ...]:
    # JSON quoting is YAML: any path reads back as the one string.
    if path is None:
        return ()
    return (f"portfolio_management.purge_execution.fill_curves={json.dumps(str(path))}",)


def _web_binding(bind: str) -> WebBinding:
    from makerfirst.web.embedded import WebBinding  # noqa: PLC0415  # the web stack only when asked for

    return WebBinding.parse(bind)


def _summary_json(summary: RunSummary, store: HistoryStore) -> dict[str, Any]:
    return {
        "cycles": [
            {
                "index": c.index,
                "utilization": round(c.utilization, 6),
                "busy_sec": round(c.busy_sec, 6),
                "requests": c.requests,
                "io_sec": round(c.io_sec, 6),
                "intents": c.intents,
            }
            for c in summary.cycles
        ],
        "runs": [
            {
                "run_id": r.run_id,
                "product": r.product_id,
                "purpose": r.purpose.value,
                "requested_size": plain(r.requested_size),
                "remaining": plain(r.remaining),
                "status": r.status.value,
                "outcome": r.outcome,
                "taker_sent": r.taker_sent,
            }
            for r in store.runs()
        ],
        "holdings": [holding_json(h) for h in store.latest_holdings()],
        "open_orders": len(store.open_orders()),
        "orders": len(store.all_orders()),
        "fills": len(store.all_fills()),
    }
