"""``makerfirst config ...``: inspect and check policy files before a bot runs with them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from makerfirst.domain.errors import MakerfirstError
from makerfirst.policy import PolicyError, load_policy

config_app = typer.Typer(name="config", help="Inspect and validate policy files.", no_args_is_help=True)


@config_app.callback()
def _config() -> None:
    """Inspect and validate policy files."""
    # A callback keeps ``config`` a command group, so ``config validate`` works even with one command.


@config_app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="The policy YAML file to check.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="dotted.key=value", help="Override one key before validating; repeatable."
        ),
    ] = None,
) -> None:
    """Check a policy file: print ok and exit 0 when valid, else every problem on stderr and exit 2."""
    try:
        policy = load_policy(path, overrides or ())
        # The purge sell policy is built as `run` builds it: glft's fill curves are read and dated.
        from makerfirst.replay.estimates import purge_sell_policy  # noqa: PLC0415  # numpy: only here

        chosen = purge_sell_policy(policy, time.time())
    except PolicyError as err:
        for problem in err.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=2) from None
    except MakerfirstError as err:
        typer.echo(f"error: portfolio_management.purge_execution.fill_curves: {err}", err=True)
        raise typer.Exit(code=2) from None
    for notice in chosen.notices:
        typer.echo(notice, err=True)
    typer.echo("ok")
