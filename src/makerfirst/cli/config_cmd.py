"""``makerfirst config ...``: inspect and check policy files before a bot runs with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
        load_policy(path, overrides or ())
    except PolicyError as err:
        for problem in err.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo("ok")
