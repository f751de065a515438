"""``makerfirst calibrate``: measure each product's fill curve and σ, save them with their date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from makerfirst.cli.backtest_cmd import _modes, _quote_rates
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import BacktestConfig, ReplayVenue, plan_backtest
from makerfirst.replay.estimates import save_curves
from makerfirst.replay.fill_curve import fit_curves, fit_pooled
from makerfirst.replay.glft_fit import curve_evidence, plan_samples
from makerfirst.replay.report import render_curves_html


def calibrate(
    data: Annotated[str, typer.Option("--data", help="A capture file, or synthetic:<preset>.")],
    out: Annotated[Path, typer.Option("--out", help="Where the curves are saved (JSON).")] = Path(
        "fill-curves.json"
    ),
    products_file: Annotated[
        Path | None, typer.Option("--products-file", help="Coinbase /products JSON beside the capture.")
    ] = None,
    quote_usd: Annotated[
        list[str] | None, typer.Option("--quote-usd", help="CUR=dollars per unit, for non-USD quotes.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="Where to measure: replay,calibrated.")
    ] = "replay,calibrated",
    calibration_share: Annotated[
        float, typer.Option("--calibration-share", help="The first share of a capture measured on.")
    ] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fitted markets' measuring runs.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the saved file's content as JSON.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write an HTML page: each curve against the observed fill rates."),
    ] = None,
) -> None:
    """Fit Λ(δ) = A·e^(−kδ) (δ in spreads from the mid) and σ per product, by censored maximum
    likelihood on virtual asks at several distances: on the first part of the capture (replay) and
    on the market fitted from it (calibrated), pooled across products with shrinkage. Saved with
    the date and the pooled curve, for `simulate purge --policy glft --curves FILE` and `run
    --fill-curves FILE` (purge_execution.sell_policy: glft). --report draws each curve against the
    observed fill rates."""
    try:
        config = BacktestConfig(
            data=data,
            products_file=products_file,
            policies=(),
            episodes=1,
            seed=seed,
            modes=_modes(mode),
            calibration_share=calibration_share,
            quote_usd=_quote_rates(quote_usd),
        )
        plan = plan_backtest(config)
        samples = plan_samples(plan, config)
        curves = fit_curves(samples)
        tapes = [v.tape for v in plan.venues.values() if isinstance(v, ReplayVenue)]
        span = (min(t.start for t in tapes), max(t.end for t in tapes)) if tapes else None
        saved = save_curves(
            out, curves, data=data, data_span=span, now=datetime.now(UTC), pooled=fit_pooled(samples, curves)
        )
        evidence = curve_evidence(curves, samples)
        if report is not None:
            _write(report, render_curves_html(evidence, f"makerfirst fill curves of {data}"))
    except MakerfirstError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(out.read_text(encoding="utf-8").rstrip())
        return
    console = Console(width=max(Console().width, 120))
    span_text = f", data {saved.data_span[0]} to {saved.data_span[1]}" if saved.data_span else ""
    console.print(f"fill curves of {data} measured {saved.measured_at}{span_text} → {out}")
    for note in plan.skipped:
        console.print(f"skipped {note}")
    for product_id, curve, observed in ((e.curve.product_id, e.curve, e.observed) for e in evidence):
        table = Table(
            title=(
                f"{product_id}: A={curve.a_per_sec:.4g}/s"
                f" [{curve.a_interval[0]:.3g}, {curve.a_interval[1]:.3g}],"
                f" k={curve.k:.3g}/spread [{curve.k_interval[0]:.3g}, {curve.k_interval[1]:.3g}],"
                f" σ={curve.sigma:.3g} spreads/√s, drift μ={curve.mu:.3g} spreads/s,"
                f" median spread {curve.spread_ticks:g} ticks,"
                f" {curve.fills} fills of {curve.orders} virtual asks"
            )
        )
        for column in ("δ (spreads)", "virtual asks", "fills", "observed /s [95 %]", "fitted /s"):
            table.add_column(column, justify="right")
        for rate in observed:
            table.add_row(
                f"{rate.distance:g}",
                str(rate.orders),
                str(rate.fills),
                f"{rate.rate:.4f} [{rate.interval[0]:.4f}, {rate.interval[1]:.4f}]",
                f"{curve.intensity(rate.distance):.4f}",
            )
        console.print(table)
        for note in curve.notes:
            console.print(f"  note: {note}")
    if saved.pooled is not None:
        pooled = saved.pooled
        console.print(
            f"pooled curve (for a product the file has none of): A={pooled.a_per_sec:.4g}/s,"
            f" k={pooled.k:.3g}/spread, σ={pooled.sigma:.3g} spreads/√s, {pooled.fills} fills of"
            f" {pooled.orders} virtual asks"
        )


def _write(path: Path, page: str) -> None:
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as failed:
        raise MakerfirstError(f"{path}: cannot write the report ({failed.strerror or failed})") from None
