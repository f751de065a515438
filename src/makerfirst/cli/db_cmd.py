"""``makerfirst db upgrade``: bring the state database to the newest schema (Alembic).

Every command that opens the database does the same first; this one does only that, so an
upgrade can be run (and seen) before the bot is started.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import create_engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from makerfirst.persistence.migrate import UpgradeReport, upgrade_database

db_app = typer.Typer(no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy URL of the state database.")
    ] = "sqlite:///makerfirst.db",
) -> None:
    """Apply the migrations the database lacks; a database made before migrations is kept and upgraded."""
    try:
        engine = create_engine(db, future=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as bad:
        _fail(f"--db {db!r} is not a database URL ({bad}); e.g. sqlite:///makerfirst.db")
    try:
        report = upgrade_database(engine)
    except SQLAlchemyError as failed:
        reason = str(getattr(failed, "orig", None) or failed).splitlines()[0]
        _fail(f"--db {engine.url.render_as_string(hide_password=True)}: cannot upgrade: {reason}")
    finally:
        engine.dispose()
    typer.echo(_summary(engine.url.render_as_string(hide_password=True), report))


def _summary(url: str, report: UpgradeReport) -> str:
    if not report.changed:
        return f"{url}: already at revision {report.after}"
    if report.before is not None:
        origin = f"revision {report.before}"
    else:
        origin = "a schema made before migrations" if report.had_tables else "an empty database"
    return f"{url}: upgraded from {origin} to revision {report.after}"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
