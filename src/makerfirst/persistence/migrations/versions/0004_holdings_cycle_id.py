"""holdings.cycle_id: the cycle that measured each holding.

``status`` shows the last cycle's holdings by this id: a ``--fast`` run restarts the virtual clock
at the same time every run, so ``recorded_at`` cannot tell two runs apart. Rows written before
this revision are given the newest cycle of the same index whose span holds their time (they were
recorded while that cycle decided); a row no cycle holds keeps a NULL id and is never shown.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

cycles = sa.table(
    "cycles",
    sa.column("id", sa.Integer()),
    sa.column("index", sa.Integer()),
    sa.column("started_at", sa.Float()),
    sa.column("ended_at", sa.Float()),
)
holdings = sa.table(
    "holdings",
    sa.column("id", sa.Integer()),
    sa.column("cycle_index", sa.Integer()),
    sa.column("recorded_at", sa.Float()),
    sa.column("cycle_id", sa.Integer()),
)


def upgrade() -> None:
    # batch mode: SQLite cannot add a foreign key to an existing table in place
    with op.batch_alter_table("holdings") as batch:
        batch.add_column(sa.Column("cycle_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_holdings_cycle_id_cycles", "cycles", ["cycle_id"], ["id"])
        batch.create_index("ix_holdings_cycle_id", ["cycle_id"])
    bind = op.get_bind()
    spans: dict[int, list[tuple[int, float, float]]] = {}
    for cycle_id, index, started, ended in bind.execute(
        sa.select(cycles.c.id, cycles.c.index, cycles.c.started_at, cycles.c.ended_at)
    ):
        spans.setdefault(index, []).append((cycle_id, started, ended))
    measured = sa.select(holdings.c.id, holdings.c.cycle_index, holdings.c.recorded_at)
    for row_id, index, at in bind.execute(measured):
        owners = [cycle_id for cycle_id, started, ended in spans.get(index, []) if started <= at <= ended]
        if owners:
            bind.execute(sa.update(holdings).where(holdings.c.id == row_id).values(cycle_id=max(owners)))


def downgrade() -> None:
    with op.batch_alter_table("holdings") as batch:
        batch.drop_index("ix_holdings_cycle_id")
        batch.drop_constraint("fk_holdings_cycle_id_cycles", type_="foreignkey")
        batch.drop_column("cycle_id")
