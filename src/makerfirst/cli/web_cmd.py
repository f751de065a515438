"""``makerfirst web``: the dashboard and REST API over a database written by ``makerfirst run``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from makerfirst import bootstrap
from makerfirst.domain.errors import DatabaseUrlError, MakerfirstError
from makerfirst.observability.logs import configure_logging
from makerfirst.web.auth import TOKEN_ENV, load_token
from makerfirst.web.server import DEFAULT_HOST, DEFAULT_PORT, is_loopback, server


def require_database(db: str) -> None:
    """A SQLite file that does not exist is a typo, not a new database to create."""
    try:
        url = make_url(db)
    except Exception:  # SQLAlchemy raises its own ArgumentError for any malformed URL
        raise DatabaseUrlError(f"--db {db!r} is not a database URL, e.g. sqlite:///makerfirst.db") from None
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        raise DatabaseUrlError(f"--db {db}: no such file; run `makerfirst run --db {db}` first")


def web(
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy URL of the state database.")
    ] = "sqlite:///makerfirst.db",
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = DEFAULT_PORT,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help=f"File holding the token (else ${TOKEN_ENV}).")
    ] = None,
) -> None:
    """Serve the dashboard, the REST API (/api/v1) and /metrics over a database; the kill switch
    persists the paused state, which the bot writing that database honours at its next cycle."""
    configure_logging(sys.stderr)
    try:
        require_database(db)
        token = load_token(token_file)
        app = bootstrap.build_app(bootstrap.Settings(db=db))
    except MakerfirstError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        dashboard = app.dashboard(token)
        if not is_loopback(host):
            typer.echo(
                f"warning: serving on {host}, reachable from other machines; the token is all that guards it",
                err=True,
            )
        typer.echo(f"dashboard: http://{host}:{port}/ over {db} (sign in with ${TOKEN_ENV}); Ctrl-C stops it")
        asyncio.run(server(dashboard, host, port).serve())
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
