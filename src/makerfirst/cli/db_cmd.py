"""``makerfirst db upgrade``: bring the state database to the newest schema (Alembic).

Every command that opens the database does the same first; this one does only that, so an
upgrade can be run (and seen) before the bot is started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from makerfirst import bootstrap
from makerfirst.domain.errors import DatabaseUrlError

if TYPE_CHECKING:
    from makerfirst.persistence.migrate import UpgradeReport

db_app = typer.Typer(no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    db: Annotated[
        str, typer.Option("--db", help="SQLAlchemy URL of the state database.")
    ] = "sqlite:///makerfirst.db",
) -> None:
    """Apply the migrations the database lacks; a database made before migrations is kept and upgraded."""
    try:
        shown, report = bootstrap.upgrade_database(db)
    except DatabaseUrlError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(_summary(shown, report))


def _summary(url: str, report: UpgradeReport) -> str:
    if not report.changed:
        return f"{url}: already at revision {report.after}"
    if report.before is not None:
        origin = f"revision {report.before}"
    else:
        origin = "a schema made before migrations" if report.had_tables else "an empty database"
    return f"{url}: upgraded from {origin} to revision {report.after}"
