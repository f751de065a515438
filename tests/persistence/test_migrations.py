"""Alembic migrations: a new database, one the first release made (rows in it), one made by
``create_all`` before migrations, and the models never drifting from the revisions."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import release_schema
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, text

from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import Liquidity, OrderStatus, Side
from makerfirst.domain.records import OrderState, RunStatus
from makerfirst.persistence.migrate import head_revision, upgrade_database
from makerfirst.persistence.schema import Base
from makerfirst.persistence.store import SqlStore

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
TIERS = '{"PENGU": "T3"}'


MONEY = {
    "requested_size", "remaining", "size", "limit_price", "filled_size", "filled_value", "total_fees",
    "price", "fee", "value", "target_weight", "weight",
}  # fmt: skip


def money(row: dict[str, object]) -> dict[str, object]:
    """The release's Money columns take Decimal, as ours do."""
    return {k: Decimal(v) if k in MONEY and isinstance(v, str) else v for k, v in row.items()}


RUN = {
    "id": 1, "product_id": "PENGU-USD", "purpose": "purge", "requested_size": "1116", "status": "active",
    "started_at": 1000.0, "remaining": "558", "cushion_ticks": 1, "maker_attempts": 2,
    "consecutive_no_fill": 1, "taker_sent": False, "outcome": None, "side": "SELL",
}  # fmt: skip
ORDER = {
    "product_id": "PENGU-USD", "side": "SELL", "order_type": "limit_limit_gtd", "purpose": "purge",
    "size": "558", "limit_price": "0.0297", "end_time": 1010.0, "state": "accepted", "status": "FILLED",
    "filled_size": "558", "filled_value": "16.5726", "total_fees": "0.0099", "reject_reason": None,
    "run_id": 1, "created_at": 1001.0,
}  # fmt: skip
FILL = {
    "trade_id": "t-1", "order_id": "o-1", "product_id": "PENGU-USD", "side": "SELL", "price": "0.0297",
    "size": "558", "fee": "0.0099", "liquidity": "MAKER", "time": 1002.5,
}  # fmt: skip
CYCLE = {
    "index": 0, "started_at": 1000.0, "ended_at": 1060.0, "cycle_sec": 60.0, "busy_sec": 1.5,
    "utilization": 0.025, "requests": 12, "io_sec": 0.8, "intents": 1, "reconciled": 0,
}  # fmt: skip
HOLDING = {
    "cycle_index": 0, "recorded_at": 1000.0, "asset": "PENGU", "size": "558", "price": "0.0297",
    "value": "16.5726", "tier": "T3", "target_weight": None, "weight": "0.14", "purge_state": "running",
    "dust_reason": None,
}  # fmt: skip
NEVER_SENT = {"order_id": None, "state": "intent", "status": None, "filled_size": "0", "filled_value": "0"}


def release_database(url: str) -> None:
    """A database as the first release left it: its tables by create_all, a purge run, a filled
    order with its fill, one that lost its fill (the two-transaction bug), an unresolved intent, a
    cycle, holdings and a runner document."""
    engine = create_engine(url)
    release_schema.Base.metadata.create_all(engine)
    orders = [
        {**ORDER, "client_order_id": "purge_a", "order_id": "o-1"},
        {**ORDER, "client_order_id": "purge_b", "order_id": "o-2"},  # FILLED, its fill never written
        {**ORDER, **NEVER_SENT, "client_order_id": "purge_c", "total_fees": "0"},
    ]
    with engine.begin() as conn:
        conn.execute(insert(release_schema.PurgeRunRow.__table__), [money(RUN)])
        conn.execute(insert(release_schema.OrderRow.__table__), [money(o) for o in orders])
        conn.execute(insert(release_schema.FillRow.__table__), [money(FILL)])
        conn.execute(insert(release_schema.CycleRow.__table__), [CYCLE])
        conn.execute(insert(release_schema.HoldingRow.__table__), [money(HOLDING)])
        conn.execute(insert(release_schema.StateRow.__table__), [{"name": "tiers", "document": TIERS}])
    engine.dispose()


def db_upgrade(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKERFIRST, "db", "upgrade", "--db", url], capture_output=True, text=True, check=False
    )


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    return found


def test_a_release_database_with_rows_is_upgraded_in_place_and_keeps_every_row(db_url: str) -> None:
    release_database(db_url)
    assert revision_of(db_url) is None  # made before migrations: no alembic_version table

    store = SqlStore(db_url)

    assert revision_of(db_url) == head_revision()
    [run] = store.runs()
    assert (run.product_id, run.status, run.remaining, run.maker_attempts, run.side) == (
        "PENGU-USD", RunStatus.ACTIVE, Decimal("558"), 2, Side.SELL,
    )  # fmt: skip
    orders = {o.client_order_id: o for o in store.all_orders()}
    assert set(orders) == {"purge_a", "purge_b", "purge_c"}
    a = orders["purge_a"]
    assert (a.status, a.filled_size, a.filled_value, a.purpose, a.run_id) == (
        OrderStatus.FILLED, Decimal("558"), Decimal("16.5726"), Purpose.PURGE, 1,
    )  # fmt: skip
    assert orders["purge_c"].state is OrderState.INTENT
    [fill] = store.all_fills()
    assert (fill.trade_id, fill.size, fill.liquidity) == ("t-1", Decimal("558"), Liquidity.MAKER)
    [cycle] = store.cycles()
    assert (cycle.requests, cycle.io_sec) == (12, 0.8)
    [holding] = store.latest_holdings()
    assert (holding.asset, holding.size, holding.tier) == ("PENGU", Decimal("558"), "T3")
    assert store.load_document("tiers") == TIERS
    # The order the release left FILLED without its fill is found, to be settled by reconciliation.
    assert [o.client_order_id for o in store.unsettled_orders()] == ["purge_b"]
    store.close()


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    release_database(db_url)
    engine = create_engine(db_url)
    first = upgrade_database(engine)
    second = upgrade_database(engine)
    engine.dispose()
    assert (first.before, first.after, first.had_tables) == (None, head_revision(), True)
    assert (second.before, second.after, second.changed) == (head_revision(), head_revision(), False)


def test_a_database_from_before_the_release_gets_the_missing_tables_and_columns(tmp_path: Path) -> None:
    """The runner's first commit had no holdings or runner_state tables, no purge_runs.side and no
    cycles.io_sec: the baseline adds them, with defaults for the rows already there."""
    url = f"sqlite:///{tmp_path / 'early.db'}"
    engine = create_engine(url)
    release_database(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE holdings"))
        conn.execute(text("DROP TABLE runner_state"))
        conn.execute(text("ALTER TABLE purge_runs DROP COLUMN side"))
        conn.execute(text("ALTER TABLE cycles DROP COLUMN io_sec"))
    engine.dispose()

    store = SqlStore(url)

    [run] = store.runs()
    assert run.side is Side.SELL
    [cycle] = store.cycles()
    assert cycle.io_sec == 0.0 and cycle.requests == 12
    assert store.latest_holdings() == [] and len(store.all_orders()) == 3
    store.close()


def test_a_new_database_is_built_by_the_revisions_and_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    report = upgrade_database(engine)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert (report.before, report.had_tables) == (None, False)
    assert drift == [], f"persistence/schema.py and the migrations disagree; add a revision: {drift}"
    assert tables == {*Base.metadata.tables, "alembic_version"}


def test_db_upgrade_command_on_a_fresh_file_and_on_a_release_file(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = db_upgrade(fresh)
    assert done.returncode == 0, done.stderr
    assert f"upgraded from an empty database to revision {head_revision()}" in done.stdout

    old = f"sqlite:///{tmp_path / 'old.db'}"
    release_database(old)
    done = db_upgrade(old)
    assert done.returncode == 0, done.stderr
    assert f"upgraded from a schema made before migrations to revision {head_revision()}" in done.stdout
    again = db_upgrade(old)
    assert again.returncode == 0 and f"already at revision {head_revision()}" in again.stdout
    store = SqlStore(old)
    assert len(store.all_orders()) == 3 and len(store.all_fills()) == 1
    store.close()


@pytest.mark.parametrize("bad", ["nosuchdialect://x", "sqlite:////nonexistent-dir/x/y.db"])
def test_db_upgrade_with_a_bad_url_is_one_line_not_a_traceback(bad: str) -> None:
    done = db_upgrade(bad)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "--db" in done.stderr
