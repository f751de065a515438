"""``makerfirst simulate``: one sell on the simulated exchange, on a virtual clock."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from makerfirst.bootstrap import build_simulation, load_catalogue, run_simulated_trade
from makerfirst.cli.render import twap_report_json
from makerfirst.cli.sell_policy import sell_policy, split_policy_option
from makerfirst.cli.transcript import install_transcript
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.intents import Purpose, Size, SizeBase, SizeUsd, TradeIntent
from makerfirst.execution.twap_loop import TwapLoop
from makerfirst.policy import load_policy

simulate_app = typer.Typer(name="simulate", help="Run one sell on the simulated exchange (virtual clock).")

ProductOpt = Annotated[str, typer.Option("--product", help="Product id, e.g. PENGU-USD.")]
MarketOpt = Annotated[str, typer.Option("--market", help="Market preset: liquid, thin or dead.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same run.")]
PriceOpt = Annotated[
    str | None, typer.Option("--price", help="Starting mid price (default: the product's reference price).")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object (the transcript goes to stderr).")
]
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="Policy YAML (default: the shipped policy), or a sell policy by name: design_note, tob, glft.",
    ),
]
CurvesOpt = Annotated[
    Path | None,
    typer.Option("--curves", help="glft: fill curves saved by `makerfirst calibrate` (default: measured)."),
]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a policy key: dotted.key=value.")]
ProductsOpt = Annotated[
    Path | None, typer.Option("--products-file", help="Coinbase /products JSON (Advanced or legacy format).")
]


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{option} must be a decimal number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise typer.BadParameter(f"{option} must be a positive number, got {text!r}")
    return value


def _run(
    *,
    product: str,
    size: Size,
    purpose: Purpose,
    market: str,
    seed: int,
    price: str | None,
    as_json: bool,
    policy_arg: str | None,
    overrides: list[str] | None,
    products_file: Path | None,
    curves: Path | None = None,
) -> None:
    name, policy_path = split_policy_option(policy_arg)
    try:
        policy = load_policy(policy_path, overrides or [])
        catalogue = load_catalogue(products_file)
        start_price = _decimal(price, "--price") if price is not None else None
        found = catalogue.products.get(product)
        mid = start_price or catalogue.reference_prices.get(product) or Decimal(0)
        wanted = size.amount if isinstance(size, SizeBase) else (size.amount / mid if mid else Decimal(0))
        # A sell by value is priced after the market warms up, so the account holds some spare.
        held = wanted if isinstance(size, SizeBase) else 2 * wanted
        balances = {found.base_currency: held, found.quote_currency: Decimal(0)} if found else {}
        simulation = build_simulation(
            catalogue=catalogue,
            product_id=product,
            market=market,
            price=start_price,
            seed=seed,
            balances=balances,
            policy=policy,
        )
    except MakerfirstError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    install_transcript(sys.stderr if as_json else sys.stdout)
    if name != "design_note" and found is not None:
        try:
            chosen = sell_policy(
                name,
                product=found,
                market=market,
                start_price=simulation.exchange.book_now(product).mid,
                seed=seed,
                curves=curves,
            )
        except MakerfirstError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        loop = TwapLoop(simulation.engine, simulation.exchange, simulation.clock, policy=chosen)
        simulation = replace(simulation, twap_loop=loop)
    report = asyncio.run(run_simulated_trade(simulation, TradeIntent(product, size, purpose)))
    if as_json:
        typer.echo(json.dumps(twap_report_json(report, {"market": market, "seed": seed}), indent=2))


@simulate_app.command("purge")
def purge(
    product: ProductOpt,
    size: Annotated[str, typer.Option("--size", help="Base units to purge, e.g. 1116.")],
    market: MarketOpt = "dead",
    seed: SeedOpt = 1,
    price: PriceOpt = None,
    as_json: JsonOpt = False,
    policy: PolicyOpt = None,
    overrides: SetOpt = None,
    products_file: ProductsOpt = None,
    curves: CurvesOpt = None,
) -> None:
    """Purge a holding: maker slices with the purge TTLs, then the guarded taker fallback
    (--policy tob: each attempt tracks the top of the book; glft: quotes at the GLFT distance)."""
    _run(
        product=product,
        size=SizeBase(_decimal(size, "--size")),
        purpose=Purpose.PURGE,
        market=market,
        seed=seed,
        price=price,
        as_json=as_json,
        policy_arg=policy,
        overrides=overrides,
        products_file=products_file,
        curves=curves,
    )


@simulate_app.command("sell")
def sell(
    product: ProductOpt,
    size_usd: Annotated[
        str | None, typer.Option("--size-usd", help="Quote amount to sell, e.g. 500.")
    ] = None,
    size: Annotated[str | None, typer.Option("--size", help="Base units to sell.")] = None,
    market: MarketOpt = "liquid",
    seed: SeedOpt = 1,
    price: PriceOpt = None,
    as_json: JsonOpt = False,
    policy: PolicyOpt = None,
    overrides: SetOpt = None,
    products_file: ProductsOpt = None,
) -> None:
    """A normal maker-first sell: spread-based TTL, retries, never a taker."""
    if (size_usd is None) == (size is None):
        raise typer.BadParameter("give exactly one of --size-usd or --size")
    amount: Size = (
        SizeUsd(_decimal(size_usd, "--size-usd")) if size_usd else SizeBase(_decimal(size or "", "--size"))
    )
    _run(
        product=product,
        size=amount,
        purpose=Purpose.NORMAL,
        market=market,
        seed=seed,
        price=price,
        as_json=as_json,
        policy_arg=policy,
        overrides=overrides,
        products_file=products_file,
    )
