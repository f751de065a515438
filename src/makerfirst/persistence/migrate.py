"""Bring a state database to the newest schema with Alembic: ``makerfirst db upgrade``.

Every :class:`~makerfirst.persistence.store.SqlStore` runs :func:`upgrade_database` when it opens,
so a database made by an earlier release is migrated in place (rows kept), a new one is built
from the revisions, and one made by ``create_all`` before migrations existed (no
``alembic_version`` table) is recognised by the baseline revision and upgraded, never recreated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("makerfirst.persistence")

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    """What :func:`upgrade_database` found and left. ``before`` is None for a database that had
    no revision: empty (``had_tables`` False) or made before migrations existed."""

    before: str | None
    after: str
    had_tables: bool

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its revisions
        raise RuntimeError(f"no migration scripts in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine) -> UpgradeReport:
    """Apply every revision the database lacks, in one transaction where the database allows."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our own line below says what happened
    head = head_revision()
    with engine.connect() as connection:
        before = current_revision(connection)
        had_tables = bool(set(inspect(connection).get_table_names()) - {VERSION_TABLE})
    if before != head:
        try:
            with engine.begin() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError:
            # Two processes opening one new database at once: the other one may have won.
            with engine.connect() as connection:
                if current_revision(connection) != head:
                    raise
    report = UpgradeReport(before, head, had_tables)
    if report.changed:
        log.log(
            logging.INFO if had_tables else logging.DEBUG,  # a new file being built is not news
            "Database %s upgraded from %s to revision %s",
            engine.url.render_as_string(hide_password=True),
            _describe(report),
            head,
            extra={"event": "database_upgraded", "before": before, "after": head},
        )
    return report


def _describe(report: UpgradeReport) -> str:
    if report.before is not None:
        return f"revision {report.before}"
    return "a schema made before migrations" if report.had_tables else "an empty database"
