"""``makerfirst``: the command-line entry point.

Every command's module is imported only when that command runs: the commands between them import
FastAPI, SQLAlchemy and Alembic, ccxt, numba and plotly, and a ``makerfirst backtest`` should not pay
a second of start-up for a dashboard it never serves. ``makerfirst --help`` lists the commands from
the help kept beside each in :data:`COMMANDS` (the help the loaded command is given too), so it
imports none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer import _click as click
from typer.core import TyperCommand

from makerfirst.cli.entry import command_loaded
from makerfirst.cli.errors import ErrorReportingGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command by where it lives: ``module``'s ``attribute``, a Typer app (a group of commands)
    or a plain function with typer options; ``help`` is its one-line help, shown by ``makerfirst
    --help`` without importing ``module`` and given to the command when it loads."""

    module: str
    attribute: str
    help: str


COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand(
        "makerfirst.cli.run_cmd", "run", "Run the bot: cycles of reconcile, purge, record (paper by default)."
    ),
    "backtest": LazyCommand(
        "makerfirst.cli.backtest_cmd",
        "backtest",
        "Replay backtests of execution policies on real or synthetic markets.",
    ),
    "sweep": LazyCommand(
        "makerfirst.cli.backtest_cmd",
        "sweep",
        "Sweep policy parameters over episodes (local processes or Ray).",
    ),
    "calibrate": LazyCommand(
        "makerfirst.cli.calibrate_cmd",
        "calibrate",
        "Measure and save each product's fill curve and volatility (for glft).",
    ),
    "sim-server": LazyCommand(
        "makerfirst.cli.sim_server_cmd",
        "sim_server",
        "Serve a Coinbase-compatible API over the simulated exchange.",
    ),
    "status": LazyCommand(
        "makerfirst.cli.status_cmd",
        "status",
        "The portfolio as the last cycle recorded it (holdings, tiers, purges, dust).",
    ),
    "record": LazyCommand(
        "makerfirst.cli.record_cmd",
        "record",
        "Record Coinbase's public L2 feed into captures the backtest reads.",
    ),
    "web": LazyCommand(
        "makerfirst.cli.web_cmd",
        "web",
        "Serve the dashboard, REST API and /metrics over a database (read-only).",
    ),
    "config": LazyCommand("makerfirst.cli.config_cmd", "config_app", "Check a policy file."),
    "db": LazyCommand(
        "makerfirst.cli.db_cmd", "db_app", "The state database: `db upgrade` applies its migrations."
    ),
    "market": LazyCommand(
        "makerfirst.cli.market_cmd", "market_app", "Check the synthetic market against a capture; fit it."
    ),
    "simulate": LazyCommand(
        "makerfirst.cli.simulate", "simulate_app", "Run one sell on the simulated exchange."
    ),
}


def load_command(name: str, spec: LazyCommand) -> click.Command:
    """Import ``spec``'s module and build its click command, named ``name`` with ``spec``'s help."""
    target = getattr(importlib.import_module(spec.module), spec.attribute)
    if isinstance(target, typer.Typer):
        # Always a group (``add_typer``'s way): an app of one command (``db upgrade``) stays a group.
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        single.command(name, help=spec.help)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.help = spec.help
    return command


def listing_entry(name: str, spec: LazyCommand) -> click.Command:
    """What the group's ``--help`` needs of a command (its name and help), without importing it.

    The listing reads only ``name``, ``help``, ``short_help``, ``hidden``, ``deprecated`` and the
    rich help panel; a loaded command has the same values (tests compare the two listings)."""
    return TyperCommand(name, help=spec.help)


class LazyCommandGroup(ErrorReportingGroup):
    """The ``makerfirst`` group: its commands are built from :data:`COMMANDS` on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}
        self._listing = False

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help: its commands listed from :data:`COMMANDS`, none of them imported."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS) + [n for n in super().list_commands(ctx) if n not in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        if self._listing and cmd_name not in self._loaded:
            return listing_entry(cmd_name, spec)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name, spec)
            command_loaded()  # start-up is over (see cli/entry.py)
        return self._loaded[cmd_name]


app = typer.Typer(
    name="makerfirst",
    cls=LazyCommandGroup,
    help="Maker-first crypto spot execution with guarded purges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Maker-first crypto spot execution with guarded purges."""
