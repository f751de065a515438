"""How the command line reports a failure: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from makerfirst.domain.errors import MakerfirstError

INPUT_ERROR_EXIT = 2
_MAX_CHARS = 400  # a venue's HTML error page must not flood the terminal


def one_line(message: object, limit: int = _MAX_CHARS) -> str:
    """``message`` on one line: whitespace (a venue's HTML body, a driver's hint) collapsed, capped."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fail(message: object, fix: str = "") -> typer.Exit:
    """Print ``error: <message>[; <fix>]`` on stderr, the fix never cut off by a long message;
    return the exit to raise (``raise fail(...) from None``)."""
    line = one_line(message, _MAX_CHARS - len(fix)) + (f"; {fix}" if fix else "")
    typer.echo(f"error: {line}", err=True)
    return typer.Exit(INPUT_ERROR_EXIT)


class ErrorReportingGroup(TyperGroup):
    """The ``makerfirst`` command group: a :class:`MakerfirstError` that a command did not report
    itself (a bad ``--db`` for ``status``, say) ends as one ``error:`` line and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MakerfirstError as error:
            raise fail(error) from None
