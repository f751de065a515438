"""Baseline: the schema of the first release (persistence/schema.py at commit a1ddde1).

A database made by ``create_all`` before migrations existed has no ``alembic_version`` table.
This revision recognises it: it creates only the tables that are missing and adds the two
columns that commits before the release added (``purge_runs.side``, ``cycles.io_sec``), so such
a database is brought to the baseline in place, with its rows, and never recreated.

The tables are written out here rather than taken from the models: a revision is frozen, the
models move on.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _create(name: str, *columns: sa.Column[object] | sa.Constraint) -> None:
    op.create_table(name, *columns)


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if "purge_runs" not in present:
        _create(
            "purge_runs",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("product_id", sa.String(32), nullable=False),
            sa.Column("purpose", sa.String(16), nullable=False),
            sa.Column("requested_size", sa.Text(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("remaining", sa.Text(), nullable=False),
            sa.Column("cushion_ticks", sa.Integer(), nullable=False),
            sa.Column("maker_attempts", sa.Integer(), nullable=False),
            sa.Column("consecutive_no_fill", sa.Integer(), nullable=False),
            sa.Column("taker_sent", sa.Boolean(), nullable=False),
            sa.Column("outcome", sa.String(40), nullable=True),
            sa.Column("side", sa.String(4), nullable=False),
        )
        op.create_index("ix_purge_runs_product_id", "purge_runs", ["product_id"])
        op.create_index("ix_purge_runs_status", "purge_runs", ["status"])
    else:
        _add_missing("purge_runs", sa.Column("side", sa.String(4), nullable=False, server_default="SELL"))
    if "orders" not in present:
        _create(
            "orders",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("client_order_id", sa.String(64), nullable=False),
            sa.Column("order_id", sa.String(64), nullable=True),
            sa.Column("product_id", sa.String(32), nullable=False),
            sa.Column("side", sa.String(4), nullable=False),
            sa.Column("order_type", sa.String(32), nullable=False),
            sa.Column("purpose", sa.String(16), nullable=False),
            sa.Column("size", sa.Text(), nullable=False),
            sa.Column("limit_price", sa.Text(), nullable=False),
            sa.Column("end_time", sa.Float(), nullable=True),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("status", sa.String(16), nullable=True),
            sa.Column("filled_size", sa.Text(), nullable=False),
            sa.Column("filled_value", sa.Text(), nullable=False),
            sa.Column("total_fees", sa.Text(), nullable=False),
            sa.Column("reject_reason", sa.String(64), nullable=True),
            sa.Column("run_id", sa.Integer(), sa.ForeignKey("purge_runs.id"), nullable=True),
            sa.Column("created_at", sa.Float(), nullable=False),
        )
        op.create_index("ix_orders_client_order_id", "orders", ["client_order_id"], unique=True)
        op.create_index("ix_orders_order_id", "orders", ["order_id"])
        op.create_index("ix_orders_product_id", "orders", ["product_id"])
        op.create_index("ix_orders_state", "orders", ["state"])
        op.create_index("ix_orders_run_id", "orders", ["run_id"])
    if "fills" not in present:
        _create(
            "fills",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("trade_id", sa.String(64), nullable=False),
            sa.Column("order_id", sa.String(64), nullable=False),
            sa.Column("product_id", sa.String(32), nullable=False),
            sa.Column("side", sa.String(4), nullable=False),
            sa.Column("price", sa.Text(), nullable=False),
            sa.Column("size", sa.Text(), nullable=False),
            sa.Column("fee", sa.Text(), nullable=False),
            sa.Column("liquidity", sa.String(8), nullable=False),
            sa.Column("time", sa.Float(), nullable=False),
            sa.UniqueConstraint("trade_id", "order_id"),
        )
        op.create_index("ix_fills_order_id", "fills", ["order_id"])
    if "holdings" not in present:
        _create(
            "holdings",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("cycle_index", sa.Integer(), nullable=False),
            sa.Column("recorded_at", sa.Float(), nullable=False),
            sa.Column("asset", sa.String(16), nullable=False),
            sa.Column("size", sa.Text(), nullable=False),
            sa.Column("price", sa.Text(), nullable=True),
            sa.Column("value", sa.Text(), nullable=False),
            sa.Column("tier", sa.String(4), nullable=True),
            sa.Column("target_weight", sa.Text(), nullable=True),
            sa.Column("weight", sa.Text(), nullable=False),
            sa.Column("purge_state", sa.String(80), nullable=True),
            sa.Column("dust_reason", sa.String(40), nullable=True),
        )
        op.create_index("ix_holdings_cycle_index", "holdings", ["cycle_index"])
        op.create_index("ix_holdings_recorded_at", "holdings", ["recorded_at"])
    if "runner_state" not in present:
        _create(
            "runner_state",
            sa.Column("name", sa.String(40), primary_key=True),
            sa.Column("document", sa.Text(), nullable=False),
        )
    if "cycles" not in present:
        _create(
            "cycles",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("index", sa.Integer(), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("ended_at", sa.Float(), nullable=False),
            sa.Column("cycle_sec", sa.Float(), nullable=False),
            sa.Column("busy_sec", sa.Float(), nullable=False),
            sa.Column("utilization", sa.Float(), nullable=False),
            sa.Column("requests", sa.Integer(), nullable=False),
            sa.Column("io_sec", sa.Float(), nullable=False),
            sa.Column("intents", sa.Integer(), nullable=False),
            sa.Column("reconciled", sa.Integer(), nullable=False),
        )
    else:
        _add_missing("cycles", sa.Column("io_sec", sa.Float(), nullable=False, server_default="0"))


def _add_missing(table: str, column: sa.Column[object]) -> None:
    """Add ``column`` to a table an earlier commit created without it (rows get its default)."""
    known = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    if column.name not in known:
        op.add_column(table, column)


def downgrade() -> None:
    for table in ("cycles", "runner_state", "holdings", "fills", "orders", "purge_runs"):
        op.drop_table(table)
