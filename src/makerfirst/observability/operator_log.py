"""The operator's own tables: the audit log of actions and the log of warnings and errors.

Written with SQLAlchemy Core on an engine of the caller's, so the dashboard (a second process over
the same database) and the runner can both use them without the store's session machinery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Engine

from makerfirst.persistence.schema import AuditRow, ErrorLogRow

AUDIT: Table = AuditRow.__table__  # type: ignore[assignment]  # a declarative class's table is a Table
ERRORS: Table = ErrorLogRow.__table__  # type: ignore[assignment]
MESSAGE_LIMIT = 2000  # an error row is for a person to read; the log file has the rest


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    at: float
    level: str
    event: str | None
    kind: str | None
    product_id: str | None
    message: str


def ensure_tables(engine: Engine) -> None:
    """Create the two tables if an older database lacks them (nothing else is touched)."""
    AUDIT.create(engine, checkfirst=True)
    ERRORS.create(engine, checkfirst=True)


def record_audit(engine: Engine, at: float, actor: str, action: str, detail: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(AUDIT).values(at=at, actor=actor[:64], action=action[:32], detail=detail))


def audit_entries(engine: Engine, limit: int = 100) -> list[AuditEntry]:
    with engine.connect() as conn:
        rows = conn.execute(select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)).mappings().all()
    return [AuditEntry(r["at"], r["actor"], r["action"], r["detail"]) for r in rows]


def error_entries(engine: Engine, limit: int = 100) -> list[ErrorEntry]:
    with engine.connect() as conn:
        rows = conn.execute(select(ERRORS).order_by(ERRORS.c.id.desc()).limit(limit)).mappings().all()
    return [
        ErrorEntry(r["at"], r["level"], r["event"], r["kind"], r["product_id"], r["message"]) for r in rows
    ]


def error_kind(record: logging.LogRecord) -> str | None:
    """The failure's kind: the adapter's ``kind`` (rate_limited, transient ...) or the error class."""
    kind = getattr(record, "kind", None) or getattr(record, "error", None)
    return None if kind is None else str(kind)[:40]


class ErrorLogHandler(logging.Handler):
    """Keeps every WARNING and above in ``error_log``. A failing write is dropped, never raised:
    the log of errors must not become the bot's next error."""

    def __init__(self, engine: Engine, now: Callable[[], float] = time.time) -> None:
        super().__init__(logging.WARNING)
        self._engine = engine
        self._now = now

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(ERRORS).values(
                        at=self._now(),
                        level=record.levelname,
                        event=getattr(record, "event", None),
                        kind=error_kind(record),
                        product_id=getattr(record, "product_id", None),
                        message=record.getMessage()[:MESSAGE_LIMIT],
                    )
                )
        except Exception:  # see the class docstring
            self.handleError(record)
