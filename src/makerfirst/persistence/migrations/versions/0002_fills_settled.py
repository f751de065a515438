"""orders.fills_settled: the recorded fills add up to the order's filled size.

Reconciliation revisits terminal orders without it until their fills are all recorded. Rows
that exist already are judged from their data here, so an order that an earlier release left
terminal without its fills (the report and the fills were two transactions) is revisited too.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

orders = sa.table(
    "orders",
    sa.column("id", sa.Integer()),
    sa.column("order_id", sa.String()),
    sa.column("filled_size", sa.Text()),
    sa.column("fills_settled", sa.Boolean()),
)
fills = sa.table("fills", sa.column("order_id", sa.String()), sa.column("size", sa.Text()))


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("fills_settled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_orders_fills_settled", "orders", ["fills_settled"])
    bind = op.get_bind()
    recorded: dict[str, Decimal] = {}
    for order_id, size in bind.execute(sa.select(fills.c.order_id, fills.c.size)):
        recorded[order_id] = recorded.get(order_id, Decimal(0)) + Decimal(size)  # exact: TEXT decimals
    settled = [
        row_id
        for row_id, order_id, filled in bind.execute(
            sa.select(orders.c.id, orders.c.order_id, orders.c.filled_size)
        )
        if recorded.get(order_id, Decimal(0)) == Decimal(filled)
    ]
    for start in range(0, len(settled), 500):
        chunk = settled[start : start + 500]
        bind.execute(sa.update(orders).where(orders.c.id.in_(chunk)).values(fills_settled=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_fills_settled")
        batch.drop_column("fills_settled")
