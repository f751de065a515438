"""``makerfirst``: the command-line entry point."""

from __future__ import annotations

import typer

from makerfirst.cli.config_cmd import config_app
from makerfirst.cli.simulate import simulate_app

app = typer.Typer(
    name="makerfirst",
    help="Maker-first crypto spot execution with guarded purges.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config", help="Check a policy file.")
app.add_typer(simulate_app, name="simulate", help="Run one sell on the simulated exchange.")
