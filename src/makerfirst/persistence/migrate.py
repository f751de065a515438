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
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

log = logging.getLogger("makerfirst.persistence")

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
MIGRATION_LOCK_KEY = 0x6D616B6572  # "maker": the advisory lock every makerfirst process migrates under
SQLITE_LOCK_WAIT_SEC = 60.0  # how long a second process waits for another's migration to finish


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
    """Apply every revision the database lacks, in one transaction that holds the database's
    migration lock: a second process opening the same new database waits, then finds it built."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our own line below says what happened
    head = head_revision()
    with engine.connect() as connection:
        before = current_revision(connection)
        had_tables = bool(set(inspect(connection).get_table_names()) - {VERSION_TABLE})
    if before != head:
        locked = _locking_engine(engine)
        try:
            with locked.begin() as connection:
                if engine.dialect.name == "postgresql":
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")  # reads the revision again, under the lock
        finally:
            if locked is not engine:
                locked.dispose()
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


def _locking_engine(engine: Engine) -> Engine:
    """An engine whose transactions hold the migration lock. PostgreSQL runs DDL in a transaction
    and takes an advisory lock in it. Python's sqlite3 runs DDL outside any transaction (two
    processes' ``CREATE TABLE`` interleave); a file database gets an engine of its own whose
    ``BEGIN IMMEDIATE`` takes SQLite's write lock first, so the whole migration is one transaction
    and the other process waits for it (sqlite3's busy timeout). An in-memory database is this
    process's alone."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    locked = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_WAIT_SEC})

    @event.listens_for(locked, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we say when a transaction begins (below)

    @event.listens_for(locked, "begin")
    def _take_the_write_lock(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return locked


def _describe(report: UpgradeReport) -> str:
    if report.before is not None:
        return f"revision {report.before}"
    return "a schema made before migrations" if report.had_tables else "an empty database"
