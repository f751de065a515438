"""Tables. Money is TEXT holding a decimal string: exact on SQLite and PostgreSQL alike.

These models are the schema's current shape; the migrations in ``persistence/migrations`` build
it (``makerfirst db upgrade``, run by every store at start). A change here needs a revision there:
``tests/persistence/test_migrations.py`` fails while the two disagree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as its exact string; a float is refused on the way in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, got {type(value).__name__}")
        return format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    pass


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    product_id: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    size: Mapped[Decimal] = mapped_column(Money)
    limit_price: Mapped[Decimal] = mapped_column(Money)
    end_time: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str | None] = mapped_column(String(16))
    filled_size: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    filled_value: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    total_fees: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    reject_reason: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("purge_runs.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    # The recorded fills add up to ``filled_size``. A terminal order without it is revisited by
    # reconciliation until they do (revision 0002).
    fills_settled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("trade_id", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trade_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(Money)
    size: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money)
    liquidity: Mapped[str] = mapped_column(String(8))
    time: Mapped[float] = mapped_column(Float)


class PurgeRunRow(Base):
    __tablename__ = "purge_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(String(32), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    requested_size: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[float] = mapped_column(Float)
    remaining: Mapped[Decimal] = mapped_column(Money)
    cushion_ticks: Mapped[int] = mapped_column(Integer)
    maker_attempts: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_no_fill: Mapped[int] = mapped_column(Integer, default=0)
    taker_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(4), default="SELL")


class HoldingRow(Base):
    __tablename__ = "holdings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The cycle that measured it: the status shows the last cycle's rows by this id (a virtual
    # clock restarts at the same time every run, so ``recorded_at`` cannot tell runs apart).
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"), index=True)
    cycle_index: Mapped[int] = mapped_column(Integer, index=True)
    recorded_at: Mapped[float] = mapped_column(Float, index=True)
    asset: Mapped[str] = mapped_column(String(16))
    size: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal | None] = mapped_column(Money)
    value: Mapped[Decimal] = mapped_column(Money)
    tier: Mapped[str | None] = mapped_column(String(4))
    target_weight: Mapped[Decimal | None] = mapped_column(Money)
    weight: Mapped[Decimal] = mapped_column(Money)
    purge_state: Mapped[str | None] = mapped_column(String(80))
    dust_reason: Mapped[str | None] = mapped_column(String(40))


class StateRow(Base):
    """Small named documents (JSON) the runner keeps across restarts, e.g. tiers and backoffs."""

    __tablename__ = "runner_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    document: Mapped[str] = mapped_column(Text)


class CycleRow(Base):
    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    index: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float] = mapped_column(Float)
    cycle_sec: Mapped[float] = mapped_column(Float)
    busy_sec: Mapped[float] = mapped_column(Float)
    utilization: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(Integer)
    io_sec: Mapped[float] = mapped_column(Float)
    intents: Mapped[int] = mapped_column(Integer)
    reconciled: Mapped[int] = mapped_column(Integer)


class AuditRow(Base):
    """Every operator action (kill switch, resume): when, who, from where, and what it did."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


class ErrorLogRow(Base):
    """Warnings and errors the bot logged (redacted), for the dashboard's recent errors."""

    __tablename__ = "error_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    level: Mapped[str] = mapped_column(String(8))
    event: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(40))  # e.g. rate_limited, transient, AuthenticationError
    product_id: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
