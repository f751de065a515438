"""``makerfirst``: the command-line entry point."""

from __future__ import annotations

import typer

from makerfirst.cli.backtest_cmd import backtest, sweep
from makerfirst.cli.calibrate_cmd import calibrate
from makerfirst.cli.config_cmd import config_app
from makerfirst.cli.db_cmd import db_app
from makerfirst.cli.errors import ErrorReportingGroup
from makerfirst.cli.market_cmd import market_app
from makerfirst.cli.record_cmd import record
from makerfirst.cli.run_cmd import run
from makerfirst.cli.sim_server_cmd import sim_server
from makerfirst.cli.simulate import simulate_app
from makerfirst.cli.status_cmd import status
from makerfirst.cli.web_cmd import web

app = typer.Typer(
    name="makerfirst",
    cls=ErrorReportingGroup,
    help="Maker-first crypto spot execution with guarded purges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config", help="Check a policy file.")
app.add_typer(db_app, name="db", help="The state database: `db upgrade` applies its migrations.")
app.add_typer(market_app, name="market", help="Check the synthetic market against a capture; fit it.")
app.add_typer(simulate_app, name="simulate", help="Run one sell on the simulated exchange.")
app.command("run", help="Run the bot: cycles of reconcile, purge, record (paper by default).")(run)
app.command("backtest", help="Replay backtests of execution policies on real or synthetic markets.")(backtest)
app.command("sweep", help="Sweep policy parameters over episodes (local processes or Ray).")(sweep)
app.command("calibrate", help="Measure and save each product's fill curve and volatility (for glft).")(
    calibrate
)
app.command("sim-server", help="Serve a Coinbase-compatible API over the simulated exchange.")(sim_server)
app.command("status", help="The portfolio as the last cycle recorded it (holdings, tiers, purges, dust).")(
    status
)
app.command("record", help="Record Coinbase's public L2 feed into captures the backtest reads.")(record)
app.command("web", help="Serve the dashboard, REST API and /metrics over a database (read-only).")(web)
