"""``makerfirst market check`` and ``makerfirst market fit``: the synthetic market against a capture.

``check`` fits each product on the capture's first half and compares the real second half with
the fitted market (``replay/fidelity.py``); ``fit`` prints the parameters fitted on a whole
product's capture (how the presets in ``adapters/sim/presets.py`` were made).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from makerfirst.bootstrap import load_catalogue
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import split_symbol
from makerfirst.replay.calibrate import fit_statistics, params_from
from makerfirst.replay.driver import product_tape
from makerfirst.replay.events import EventStream
from makerfirst.replay.fidelity import ProductCheck, capture_span, check_capture, check_json
from makerfirst.replay.readers import read_capture

market_app = typer.Typer(no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", help="A capture (Coinbase ws feed or Binance depth file).")]
ProductsOpt = Annotated[
    Path | None,
    typer.Option("--products-file", help="Products (ticks, lots); default: products.txt beside the capture."),
]
QuoteOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--quote-usd",
        metavar="CUR=RATE",
        help="Dollars per unit of a quote currency, e.g. EUR=1.2; repeatable.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the tables.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _rates(entries: list[str] | None) -> dict[str, Decimal]:
    rates = {"USD": Decimal(1), "USDC": Decimal(1), "USDT": Decimal(1)}
    for entry in entries or ():
        currency, equals, text = entry.partition("=")
        try:
            rate = Decimal(text)
        except ArithmeticError:
            rate = Decimal(0)
        if not equals or not currency.strip() or not rate.is_finite() or rate <= 0:
            raise _fail(f"--quote-usd: expected CUR=RATE with a positive rate (e.g. EUR=1.2), got {entry!r}")
        rates[currency.strip().upper()] = rate
    return rates


def _load(data: Path, products_file: Path | None) -> tuple[EventStream, dict[str, str]]:
    if not data.is_file():
        raise _fail(f"{data}: no such capture file (pass --data with a Coinbase feed or Binance depth file)")
    if products_file is not None and not products_file.is_file():
        raise _fail(f"{products_file}: no such products file (fix --products-file or leave it out)")
    try:
        stream = read_capture(data, products=products_file)
        catalogue = load_catalogue(products_file) if products_file is not None else None
    except MakerfirstError as error:
        raise _fail(str(error)) from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(
            f"{data}: cannot be read as a capture ({error}); pass a Coinbase feed or Binance file"
        ) from error
    quote_of = {}
    for scale in stream.products:
        known = catalogue.products.get(scale.product_id) if catalogue else None
        quote_of[scale.product_id] = known.quote_currency if known else split_symbol(scale.product_id)[1]
    return stream, quote_of


def _cell(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    if unit == "probability":
        return f"{x:.2f}"
    return f"{x:,.4g}"


def _table(check: ProductCheck) -> Table:
    rate = f", $ {check.usd_per_quote}/{check.quote_currency}" if check.usd_per_quote else ""
    table = Table(title=f"{check.product_id} (quote {check.quote_currency}{rate}; seeds {len(check.seeds)})")
    for column in ("metric", "real", "95 % interval", "synthetic", "within", "n", "window"):
        table.add_column(column, justify="left" if column in ("metric", "window") else "right")
    for m in check.metrics:
        interval = (
            "-" if m.real_low is None else f"{_cell(m.real_low, m.unit)} – {_cell(m.real_high, m.unit)}"
        )
        within = {True: "yes", False: "[red]no[/red]", None: "-"}[m.within]
        table.add_row(
            m.name, _cell(m.real, m.unit), interval, _cell(m.synthetic, m.unit), within, str(m.n), m.window
        )
    return table


@market_app.command("check")
def check(
    data: DataOpt,
    products_file: ProductsOpt = None,
    quote_usd: QuoteOpt = None,
    product: Annotated[list[str] | None, typer.Option("--product", help="Only these products.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="First seed of the synthetic runs.")] = 1,
    seeds: Annotated[
        int | None,
        typer.Option("--seeds", min=1, help="Synthetic runs per product (default: ~300 s in all)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit on the capture's first half; compare the second half with the fitted synthetic market:
    spreads, depth, trade and taker rates, and post-only sell fill probabilities (conservative rule)
    with 95 % intervals, each synthetic figure marked within the real interval or not."""
    rates = _rates(quote_usd)
    stream, quote_of = _load(data, products_file)
    try:
        checks = check_capture(
            stream,
            quote_usd=rates, quote_of=quote_of, seed=seed, seeds=seeds, products=product or None,
        )  # fmt: skip
    except MakerfirstError as error:
        raise _fail(f"{data}: {error}") from error
    asked = [s.product_id for s in stream.products if not product or s.product_id in product]
    result = check_json(checks, str(data), products=asked)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    console = Console()
    console.print(
        f"fit: {result['fit']}; compared: {result['compare']}; synthetic: {result['synthetic']}",
        soft_wrap=True,
    )
    for c in checks:
        console.print(_table(c))
    if result["skipped"]:
        console.print(f"skipped (no event after the snapshot): {result['skipped']}")
    summary = result["summary"]
    assert isinstance(summary, dict)
    console.print(
        "fill probabilities within the real 95 % interval:"
        f" {summary['fill_within']}/{summary['fill_figures']};"
        f" all figures: {summary['all_within']}/{summary['all_figures']}"
    )


@market_app.command("fit")
def fit(
    data: DataOpt,
    product: Annotated[str, typer.Option("--product", help="The product to fit.")],
    products_file: ProductsOpt = None,
) -> None:
    """Print the market parameters fitted on one product's whole capture (pooled with the others)."""
    stream, _ = _load(data, products_file)
    try:
        fits = {}
        for scale in stream.products:
            tape = product_tape(stream, scale.product_id)
            if len(tape) >= 2:
                fits[scale.product_id] = fit_statistics(tape, capture_span(tape))
        if product not in fits:
            raise MakerfirstError(f"{product} is not in the capture; it holds: {', '.join(fits)}")
        params, notes = params_from(fits[product], list(fits.values()))
    except MakerfirstError as error:
        raise _fail(f"{data}: {error}") from error
    typer.echo(json.dumps({"params": asdict(params), "notes": list(notes)}, indent=2))
