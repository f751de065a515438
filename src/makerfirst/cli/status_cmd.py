"""``makerfirst status``: the portfolio as the last cycle recorded it, from the database."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from makerfirst import bootstrap
from makerfirst.domain.money import plain
from makerfirst.domain.records import HoldingSnapshot, PurgeRun, RunStatus
from makerfirst.ports import HistoryStore

RUNS_SHOWN = 10  # ended loops listed on screen; --json has every one


def _pct(weight: Decimal | None) -> str:
    return "" if weight is None else f"{weight * 100:.1f}%"


def holding_json(h: HoldingSnapshot) -> dict[str, Any]:
    return {
        "asset": h.asset,
        "size": plain(h.size),
        "price": None if h.price is None else plain(h.price),
        "value_usd": plain(h.value.quantize(Decimal("0.01"))),
        "tier": h.tier,
        "target_weight": None if h.target_weight is None else plain(h.target_weight),
        "weight": plain(h.weight.quantize(Decimal("0.0001"))),
        "purge_state": h.purge_state,
        "dust_reason": h.dust_reason,
    }


def status(
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy URL of the state database.")
    ] = "sqlite:///makerfirst.db",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Holdings with value, tier, target vs actual weight, purge state and dust, plus open orders."""
    app = bootstrap.build_app(bootstrap.Settings(db=db))
    try:
        _show(app.store, db, as_json)
    finally:
        app.close()


def _show(store: HistoryStore, db: str, as_json: bool) -> None:
    holdings = store.latest_holdings()
    cycles = store.cycles()
    summary = {
        "holdings": [holding_json(h) for h in holdings],
        "open_orders": len(store.open_orders()),
        "cycles": len(cycles),
        "last_cycle_utilization": round(cycles[-1].utilization, 6) if cycles else None,
        "purge_runs": [
            {
                "product": r.product_id,
                "status": r.status.value,
                "outcome": r.outcome,
                "remaining": plain(r.remaining),
            }
            for r in store.runs()
        ],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    if not cycles:
        typer.echo(f"no cycle recorded in {db} yet: run `makerfirst run` first")
        return
    title = f"makerfirst status ({len(cycles)} cycles, {summary['open_orders']} open orders)"
    console = Console(width=max(Console().width, 120))
    if holdings:
        console.print(_holdings_table(title, holdings))
    else:
        typer.echo(
            f"{title}: no holdings measured; a run measures them when the policy sets"
            " portfolio_management.rebalance.target_weights"
        )
    runs = store.runs()
    if runs:
        console.print(_runs_table(runs))


def _holdings_table(title: str, holdings: list[HoldingSnapshot]) -> Table:
    table = Table(title=title)
    for column in ("holding", "size", "value", "tier", "target", "actual", "purge", "dust"):
        table.add_column(
            column, justify="right" if column in ("size", "value", "target", "actual") else "left"
        )
    for h in holdings:
        is_quote = h.tier is None and h.price == 1  # cash: cents are enough on screen (JSON stays exact)
        table.add_row(
            h.asset,
            f"{h.size:,.2f}" if is_quote else plain(h.size),
            f"${h.value:,.2f}",
            h.tier or "",
            _pct(h.target_weight),
            _pct(h.weight),
            h.purge_state or "",
            h.dust_reason or "",
        )
    return table


def _runs_table(runs: list[PurgeRun]) -> Table:
    """The trade loops, the active ones and the latest ended ones (``--json`` lists them all)."""
    active = [r for r in runs if r.status is RunStatus.ACTIVE]
    ended = [r for r in runs if r.status is not RunStatus.ACTIVE]
    shown = sorted(active + ended[-RUNS_SHOWN:], key=lambda r: r.run_id)
    hidden = len(runs) - len(shown)
    table = Table(
        title=f"trade loops ({len(runs)}{f'; {hidden} earlier in --json' if hidden else ''})",
        title_justify="left",
    )
    for column in ("product", "side", "purpose", "status", "outcome", "remaining"):
        table.add_column(column, justify="right" if column == "remaining" else "left")
    for r in shown:
        table.add_row(
            r.product_id, r.side.value, r.purpose.value, r.status.value, r.outcome or "", plain(r.remaining)
        )
    return table
