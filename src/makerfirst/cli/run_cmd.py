"""``makerfirst run``: the main loop, on paper (the default) or against a Coinbase-compatible API."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from makerfirst import bootstrap
from makerfirst.adapters.products_file import load_catalogue
from makerfirst.cli.errors import INPUT_ERROR_EXIT, fail
from makerfirst.cli.status_cmd import holding_json
from makerfirst.cli.transcript import TranscriptFormatter
from makerfirst.clock import Clock, SystemClock, VirtualClock
from makerfirst.domain.errors import AuthenticationError, MakerfirstError
from makerfirst.domain.money import plain
from makerfirst.observability import wiring
from makerfirst.observability.logs import LOG_FORMATS, LogFormat
from makerfirst.persistence.store import SqlStore
from makerfirst.policy import PolicyError, default_policy_path, load_policy
from makerfirst.ports import ExchangePort
from makerfirst.runner.loop import Runner, RunSummary

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
    loop: Annotated[bool, typer.Option("--loop", help="Run until interrupted.")] = False,
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
) -> None:
    """Run the bot: each cycle refreshes balances, reconciles, purges the policy's `purge:` list."""
    _check_options(cycles=cycles, loop=loop, paper=paper, exchange=exchange, api_url=api_url)
    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(f"--log-format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    try:
        web_at = _web_binding(web) if web else None
        if policy is None and exchange is None:
            policy = default_policy_path("demo-policy.yaml")
            typer.echo(
                f"paper demo: policy {policy} (targets BTC 40 %, ETH 30 %); --policy for yours", err=True
            )
        chosen_policy = load_policy(policy, overrides or [])
        store = bootstrap.open_store(db)
        clock: Clock
        venue: ExchangePort
        at_exit: Callable[[], None] | None = None
        if exchange is None:
            clock = VirtualClock() if fast else SystemClock()
            venue, at_exit = _paper_venue(store, db, clock, market, seed, balance, products_file)
        else:
            if fast:
                raise typer.BadParameter("--fast runs the paper exchange only")
            clock = SystemClock()
            venue = bootstrap.build_ccxt_exchange(exchange, api_url, credentials, clock, live=live)
        seen = _configure_logging(as_json, db, cast(LogFormat, log_format), log_file, clock)
        runner = bootstrap.build_runner(venue, clock, chosen_policy, store)
        work = runner.run(cycles, cycle_sec)
        if web_at is not None:
            work = _with_web(runner, work, store, seen, clock, web_at)
        summary = asyncio.run(_run_and_close(work, venue, at_exit))
        seen.bot_stopped(f"finished {len(summary.cycles)} cycles")
        seen.close()
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
    if as_json:
        typer.echo(json.dumps(_summary_json(summary, store), indent=2))


def _paper_venue(
    store: SqlStore,
    db: str,
    clock: Clock,
    market: str | None,
    seed: int,
    balance: list[str] | None,
    products_file: Path | None,
) -> tuple[ExchangePort, Callable[[], None]]:
    """The simulated venue: the world kept in ``store`` if there is one, else a new one; and the
    hook that saves it at exit."""
    world = bootstrap.load_paper_world(store)
    if world is not None:
        ignored = "; --balance ignored (another --db starts a new one)" if balance else ""
        typer.echo(f"paper: continuing the simulated venue kept in {db}{ignored}", err=True)
    venue = bootstrap.build_paper_exchange(
        catalogue=load_catalogue(products_file),
        clock=clock,
        market=market,
        seed=seed,
        balances=parse_balances(balance) or dict(bootstrap.DEMO_BALANCES),
        world=world,
    )
    return venue, bootstrap.keep_paper_world(venue, store)


def _check_options(
    *, cycles: int | None, loop: bool, paper: bool, exchange: str | None, api_url: str | None
) -> None:
    if (cycles is None) == (not loop):
        raise typer.BadParameter("give exactly one of --cycles N or --loop")
    if paper and exchange:
        raise typer.BadParameter("--paper and --exchange exclude each other")
    if exchange is None and api_url is not None:
        raise typer.BadParameter("--api-url needs --exchange (e.g. --exchange coinbase): paper is in-process")


async def _run_and_close(work: Any, venue: ExchangePort, at_exit: Callable[[], None] | None) -> RunSummary:
    try:
        result: RunSummary = await work
        return result
    finally:
        if at_exit is not None:  # also on Ctrl-C, which cancels ``work``
            at_exit()
        close = getattr(venue, "close", None)
        if close is not None:
            await close()


def _configure_logging(
    as_json: bool, db: str, log_format: LogFormat, log_file: Path | None, clock: Clock
) -> wiring.Observability:
    """Timestamped transcript (or JSON) lines, the error log the dashboard shows, alerts (issue 11)."""
    return wiring.install(
        db,
        stream=sys.stderr if as_json else sys.stdout,
        log_format=log_format,
        log_file=log_file,
        now=clock.now,
        inner=TranscriptFormatter(tag_products=True),
    )


def _web_binding(bind: str) -> WebBinding:
    from makerfirst.web.embedded import WebBinding  # noqa: PLC0415  # the web stack only when asked for

    return WebBinding.parse(bind)


async def _with_web(
    runner: Runner, work: Any, store: SqlStore, seen: wiring.Observability, clock: Clock, at: WebBinding
) -> RunSummary:
    """The run with the dashboard served beside it (issue 11's ``--web``)."""
    from makerfirst.web.embedded import dashboard_beside  # noqa: PLC0415

    async with dashboard_beside(
        store=store, engine=seen.engine, now=clock.now, halt=runner.halt, at=at, alerts=seen.alerts
    ):
        typer.echo(f"dashboard: http://{at.host}:{at.port}/ (sign in with $MAKERFIRST_WEB_TOKEN)", err=True)
        result: RunSummary = await work
        return result


def _summary_json(summary: RunSummary, store: SqlStore) -> dict[str, Any]:
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
