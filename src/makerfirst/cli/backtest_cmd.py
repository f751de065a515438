"""``makerfirst backtest`` and ``makerfirst sweep``: judge policies on replayed or synthetic markets.

Plain functions with typer options; ``cli/main.py`` registers them (``app.command()(backtest)``).
The report (plotly) and the sweep's workers are imported by the runs that use them, not by every
backtest; so is rich, which a ``--json`` run into a pipe never draws with.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from makerfirst import bootstrap
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import (
    DOLLAR_QUOTES,
    BacktestConfig,
    BacktestResult,
    Mode,
    ReplayBookKind,
    SimOptions,
    backtest_json,
    jobs,
    plan_backtest,
    run_backtest,
)
from makerfirst.replay.driver import FillModel
from makerfirst.replay.glft_fit import by_product_json, curves_json, fitted_specs, with_plan_curves
from makerfirst.replay.metrics import PolicyMetrics
from makerfirst.replay.policies import REFERENCE_POLICIES, SELL_POLICIES, parse_policies
from makerfirst.replay.stats import Interval

if TYPE_CHECKING:
    from rich.table import Table

DataOpt = Annotated[
    str,
    typer.Option(
        "--data",
        help="A capture file (Coinbase ws feed, Binance depth; any format the readers decode)"
        " or synthetic:<preset> (liquid, thin, dead).",
    ),
]
ProductsOpt = Annotated[
    Path | None,
    typer.Option(
        "--products-file", help="Products (ticks, lots, minimums); default: products.txt beside the capture."
    ),
]
FillOpt = Annotated[
    FillModel,
    typer.Option(
        "--fill-model",
        help="Replay fill model: conservative (judged on) or probabilistic; both fill only from trades.",
    ),
]
EpisodesOpt = Annotated[
    int,
    typer.Option(
        "--episodes",
        min=1,
        help="Episodes per product and mode (replay: at most as many as fit unoverlapped).",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the episodes and synthetic markets.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")]
ModesOpt = Annotated[
    str, typer.Option("--mode", help="For captures: replay, calibrated, or both (comma-separated).")
]
DeadlineOpt = Annotated[
    float,
    typer.Option("--deadline", min=1.0, help="Seconds; every episode's deadline, shown to the policies."),
]
ReplayDeadlineOpt = Annotated[
    float | None,
    typer.Option("--replay-deadline", help="Seconds; the replay deadline (default: --deadline)."),
]
ShareOpt = Annotated[
    float, typer.Option("--calibration-share", help="Share of a capture (its start) used only to calibrate.")
]
ProductOpt = Annotated[
    str | None,
    typer.Option("--product", help="Only this product (synthetic: the product traded, PENGU-USD)."),
]
QuoteOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--quote-usd",
        metavar="CUR=RATE",
        help="Dollars per unit of a quote currency, e.g. EUR=1.2 (USD, USDC, USDT are 1); repeatable.",
    ),
]
EntryOpt = Annotated[
    float, typer.Option("--entry-latency", min=0.0, help="Seconds; order-entry (request) latency.")
]
ReplayBookOpt = Annotated[
    ReplayBookKind,
    typer.Option(
        "--replay-book",
        help="The replay's book: compiled (conservative fills) or oracle (the pure-Python"
        " ReplayBook it is checked against; the other fill models always use it).",
    ),
]
FeedOpt = Annotated[
    float, typer.Option("--feed-latency", min=0.0, help="Seconds; how much later the capture saw each event.")
]


def _quote_rates(entries: list[str] | None) -> tuple[tuple[str, Decimal], ...]:
    rates = dict(DOLLAR_QUOTES)
    for entry in entries or ():
        currency, equals, text = entry.partition("=")
        try:
            rate = Decimal(text)
        except InvalidOperation:
            rate = Decimal(0)
        if not equals or not currency or not rate.is_finite() or rate <= 0:
            raise typer.BadParameter(f"--quote-usd expects CUR=RATE with a positive rate, got {entry!r}")
        rates[currency.strip().upper()] = rate
    return tuple(rates.items())


def _modes(text: str) -> tuple[Mode, ...]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    allowed = {Mode.REPLAY.value, Mode.CALIBRATED.value}
    if not names or any(n not in allowed for n in names):
        raise typer.BadParameter(f"--mode takes replay and/or calibrated, got {text!r}")
    return tuple(Mode(n) for n in names)


@contextmanager
def _quiet_engine_logs() -> Iterator[None]:
    """Thousands of episodes would print the engine's transcript; keep it out of the output."""
    logger = logging.getLogger("makerfirst")
    saved = (logger.handlers[:], logger.propagate)
    logger.handlers = [logging.NullHandler()]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int, int | None], None]]:
    """A transient progress bar on stderr; ``report(completed, total)`` moves it. Where stderr is
    not a terminal the bar would draw nothing, so rich is not even imported."""
    if not sys.stderr.isatty():
        yield lambda _completed, _total: None
        return
    from rich.console import Console  # noqa: PLC0415 - only for a terminal
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn())
    bar = Progress(
        *columns, MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda completed, total: bar.update(task, completed=completed, total=total)


def _interval(i: Interval | None, fmt: str = "{:.1f}") -> str:
    if i is None or i.value is None:
        return "-"
    if i.low is None or i.high is None:
        return fmt.format(i.value)
    return f"{fmt.format(i.value)} ({fmt.format(i.low)}…{fmt.format(i.high)})"


def _paired(m: PolicyMetrics) -> str:
    c = m.vs_reference
    if c is None:
        return "-"
    return f"{_interval(c.diff_mean_bps)} {c.wins}/{c.ties}/{c.losses}"


def _markouts(m: PolicyMetrics) -> str:
    return "/".join("-" if k.bps.value is None else f"{k.bps.value:.1f}" for k in m.markouts)


def _metrics_table(title: str, metrics: tuple[PolicyMetrics, ...]) -> Table:
    from rich.markup import escape  # noqa: PLC0415 - tables only
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=title,
        caption="(low…high): 95 % interval; n = episodes, cens = censored (left out of IS);"
        " ΔIS vs ref: paired mean difference, wins/ties/losses; markout: bps, adverse +",
    )
    columns = (
        "mode", "policy", "n", "cens", "IS mean", "E", "complete", "maker fill", "maker",
        "ΔIS vs ref", "markout 1/5/30/60 s",
    )  # fmt: skip
    for column in columns:
        if column in ("mode", "policy"):
            # Sweep points have long names: fold them, but never below a readable width.
            table.add_column(column, overflow="fold", min_width=10)
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for m in metrics:
        table.add_row(
            m.mode,
            escape(m.policy),  # sweep point names look like markup: "design_note[ttl=10]"
            str(m.episodes),
            str(m.censored),
            _interval(m.is_mean_bps),
            _interval(m.e, "{:.2f}"),
            _interval(m.completion_rate, "{:.0%}"),
            _interval(m.maker_fill_within_horizon, "{:.0%}"),
            _interval(m.maker_share, "{:.0%}"),
            _paired(m),
            _markouts(m),
        )
    return table


def _rank(cost: Interval) -> float:
    return float("inf") if cost.value is None else cost.value


def _fail(error: MakerfirstError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(2)


def backtest(
    data: DataOpt,
    products_file: ProductsOpt = None,
    policies: Annotated[
        str,
        typer.Option(
            "--policies",
            help=f"Comma-separated: {', '.join(SELL_POLICIES)}; a variant NAME[KEY=VALUE;...] is that"
            " policy with policy overrides (e.g. glft[portfolio_management.purge_execution.glft.gamma=1]).",
        ),
    ] = ",".join(REFERENCE_POLICIES),
    fill_model: FillOpt = FillModel.CONSERVATIVE,
    episodes: EpisodesOpt = 12,
    seed: SeedOpt = 1,
    as_json: JsonOpt = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report (plotly) here.")
    ] = None,
    mode: ModesOpt = "replay,calibrated",
    deadline: DeadlineOpt = 120.0,
    replay_deadline: ReplayDeadlineOpt = None,
    calibration_share: ShareOpt = 0.5,
    product: ProductOpt = None,
    quote_usd: QuoteOpt = None,
    entry_latency: EntryOpt = 0.05,
    feed_latency: FeedOpt = 0.0,
    replay_book: ReplayBookOpt = ReplayBookKind.COMPILED,
    by_product: Annotated[
        bool, typer.Option("--by-product", help="--json: every policy's metrics per product too.")
    ] = False,
) -> None:
    """Judge policies on the same episodes: IS vs arrival mid (fees, forced residual), E, completion,
    maker share, markouts, each with a 95 % interval, and every policy paired against the design note.

    A capture is used two ways, reported apart. REPLAY: the capture is the market (fill model as
    chosen; conservative = a resting sell fills only from trades at or through it, after the queue
    ahead); a product's episodes never overlap and are spread over the capture, each running to
    its deadline or the end of the data; a policy still working when the data ends is censored
    (counted, left out of IS). CALIBRATED: a synthetic market fitted on the first part only
    (--calibration-share), each episode on its own seeded market, to the full --deadline.
    synthetic:<preset> runs preset markets. Unsold size at the deadline is charged as a forced
    taker sale into the bids. --json adds the readers' book rebuild check.
    """
    try:
        config = BacktestConfig(
            data=data,
            products_file=products_file,
            policies=parse_policies(policies),
            episodes=episodes,
            seed=seed,
            modes=_modes(mode),
            calibration_share=calibration_share,
            replay_deadline_sec=replay_deadline,
            deadline_sec=deadline,
            product=product,
            quote_usd=_quote_rates(quote_usd),
            options=SimOptions(
                fill_model=fill_model,
                entry_latency_sec=entry_latency,
                feed_latency_sec=feed_latency,
                replay_book=replay_book,
                replay_venues=bootstrap.build_replay_venues(),
            ),
        )
        plan = plan_backtest(config)
        specs, evidence = fitted_specs(config.policies, plan, config)
        config = replace(config, policies=specs)
    except MakerfirstError as error:
        raise _fail(error) from None
    total = len(jobs(plan, config.policies))
    finished = 0

    with _quiet_engine_logs(), _progress("episodes", total) as report_progress:

        def one_done(_: object) -> None:
            nonlocal finished
            finished += 1
            report_progress(finished, total)

        result: BacktestResult = run_backtest(
            config, plan=plan, on_result=one_done, traces=report is not None
        )
    if report is not None:
        from makerfirst.replay.report import write_report  # noqa: PLC0415 - only with --report

        write_report(result, report, curves=evidence)
    if as_json:
        payload = backtest_json(result, config) | curves_json(config.policies)
        if by_product:
            payload["by_product"] = by_product_json(result, config)
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console  # noqa: PLC0415 - the table
    from rich.markup import escape  # noqa: PLC0415

    out = Console(width=max(Console().width, 200))  # a pipe is 80 wide: the table needs more
    if plan.rebuild is not None:
        rb = plan.rebuild
        out.print(
            f"book rebuild check: {rb.messages_compared} compared,"
            f" {rb.mismatches} mismatches, {rb.crossed} crossed"
        )
    for note in plan.skipped:
        out.print(f"skipped {note}")
    for note in plan.notes:
        out.print(f"note: {note}")
    out.print(_metrics_table(f"{data} · {fill_model.value} fills · seed {seed}", result.metrics))
    for m in result.metrics:
        if m.taker_leg is not None:
            out.print(f"{m.mode} {escape(m.policy)} {m.taker_leg.line()}", highlight=False)
    if result.replay is not None:
        r = result.replay
        out.print(
            f"replay ({r.book} book): {r.messages:,} messages, {r.level_rows:,} level rows over {r.runs} runs"
            f" in {r.seconds:.2f} s ({r.messages_per_sec:,.0f} msg/s; catch-up {r.catch_up_seconds:.2f} s);"
            " messages = snapshots + depth diffs + trades, BBO/ticker excluded"
        )
    if report is not None:
        out.print(f"report: {report}")


def sweep(
    data: DataOpt,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="dotted.key=v1,v2",
            help="Policy key and values to sweep (repeatable; the Cartesian product is run).",
        ),
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", help=f"The policy swept: {', '.join(SELL_POLICIES)}.")
    ] = "design_note",
    products_file: ProductsOpt = None,
    fill_model: FillOpt = FillModel.CONSERVATIVE,
    episodes: EpisodesOpt = 12,
    seed: SeedOpt = 1,
    mode: ModesOpt = "calibrated",
    deadline: DeadlineOpt = 120.0,
    product: ProductOpt = None,
    quote_usd: QuoteOpt = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Local worker processes (default: CPU count).")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Run on Ray: auto (a running cluster, else local) or an address."),
    ] = None,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Episodes per task.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Sweep one policy's parameters over a grid; every point runs the same episodes (paired).

    Episodes and markets are those of `makerfirst backtest` (default: calibrated markets only, full
    deadlines). Tasks run on local processes, or on Ray with --ray.
    """
    from makerfirst.replay.sweep import grid_points, parse_grid, run_sweep  # noqa: PLC0415 - not for a backtest

    try:
        base = parse_policies(policy)[0]
        points = grid_points(base, parse_grid(grid or []))
        config = BacktestConfig(
            data=data,
            products_file=products_file,
            policies=(),
            episodes=episodes,
            seed=seed,
            modes=_modes(mode),
            deadline_sec=deadline,
            product=product,
            quote_usd=_quote_rates(quote_usd),
            options=SimOptions(fill_model=fill_model, replay_venues=bootstrap.build_replay_venues()),
        )
        points = list(with_plan_curves(points, plan_backtest(config), config))  # fail fast, before any worker
    except MakerfirstError as error:
        raise _fail(error) from None
    try:
        with _quiet_engine_logs(), _progress(f"{len(points)} points", None) as done:
            result = run_sweep(
                config, points, workers=workers, ray_address=ray, chunk=chunk, on_task_done=done
            )
    except MakerfirstError as error:
        raise _fail(error) from None
    ranked = tuple(sorted(result.metrics, key=lambda m: (m.mode, _rank(m.is_mean_bps))))
    if as_json:
        payload = {
            "data": data,
            "policy": base.name,
            "backend": result.backend,
            "points": [{"name": p.name, "overrides": list(p.overrides)} for p in result.points],
            "metrics": [m.as_json() for m in ranked],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console  # noqa: PLC0415 - the table

    Console(width=max(Console().width, 120)).print(
        _metrics_table(f"sweep of {base.name} on {data} ({result.backend})", ranked)
    )
