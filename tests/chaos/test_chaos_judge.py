"""The chaos bench's judge finds each defect class in a doctored venue audit or database, and reads
a database whose schema has grown (added columns and tables change nothing)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chaos_bench import chaos_check
from sqlalchemy import create_engine, text

from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import Fill, Liquidity, OrderReport, OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.persistence.store import SqlStore

T0 = 1_700_000_000.0


def report(cid: str, order_id: str, order_type: OrderType, filled: str, status: OrderStatus) -> OrderReport:
    size, price = Decimal(100), Decimal("0.0145")
    value = Decimal(filled) * price
    return OrderReport(
        order_id, cid, "PENGU-USD", Side.SELL, order_type, status, size, price, Decimal(filled), value,
        value * Decimal("0.006"), T0,
    )  # fmt: skip


def fill(order_id: str, trade_id: str, size: str) -> Fill:
    price = Decimal("0.0145")
    fee = Decimal(size) * price * Decimal("0.006")
    return Fill(trade_id, order_id, "PENGU-USD", Side.SELL, price, Decimal(size), fee, Liquidity.MAKER, T0)


def journal_with(
    tmp_path: Path, orders: list[tuple[OrderReport, list[Fill]]], run_id: int | None = None
) -> str:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = SqlStore(url)
    run = store.start_run("PENGU-USD", Purpose.PURGE, Decimal(100), 1, T0) if run_id is not None else None
    for r, fills in orders:
        command = PlaceOrder(
            r.client_order_id, r.product_id, r.side, r.order_type, r.size, r.limit_price, None
        )
        store.record_intent(command, Purpose.PURGE, T0, run.run_id if run else None)
        store.record_accepted(r.client_order_id, r.order_id)
        store.record_report(r)
        store.record_fills(fills)
    store.close()
    return url


def audit_of(orders: list[tuple[OrderReport, list[Fill]]]) -> dict[str, Any]:
    from chaos_bench import chaos_inprocess  # noqa: PLC0415 - the same records /audit answers

    return {
        "orders": [
            chaos_inprocess.order_record(r, chaos_inprocess.wire.configuration_of(r)) for r, _ in orders
        ],
        "fills": [chaos_inprocess.fill_record(f) for _, fills in orders for f in fills],
    }


def judged(audit: dict[str, Any], url: str) -> chaos_check.Counts:
    counts = chaos_check.Counts()
    chaos_check.compare(audit, chaos_check.read_journal(url), counts)
    return counts


FILLED = report("purge_a", "o-1", OrderType.POST_ONLY_GTD, "100", OrderStatus.FILLED)
FILLS = [fill("o-1", "t-1", "40"), fill("o-1", "t-2", "60")]


def test_a_database_that_agrees_with_the_venue_has_no_defect(tmp_path: Path) -> None:
    url = journal_with(tmp_path, [(FILLED, FILLS)])
    assert judged(audit_of([(FILLED, FILLS)]), url).total == 0


def test_a_fill_missing_from_the_database_is_lost_and_one_the_venue_never_made_is_phantom(
    tmp_path: Path,
) -> None:
    url = journal_with(tmp_path, [(FILLED, [FILLS[0], fill("o-1", "t-9", "60")])])
    counts = judged(audit_of([(FILLED, FILLS)]), url)
    assert (counts.counts["lost_fills"], counts.counts["phantom_fills"]) == (1, 1)


def test_a_fee_that_differs_from_the_venues_is_a_mismatch(tmp_path: Path) -> None:
    url = journal_with(tmp_path, [(FILLED, FILLS)])
    audit = audit_of([(FILLED, FILLS)])
    audit["fills"][1]["commission"] = "0.01"
    assert judged(audit, url).counts["fee_mismatches"] == 1


def test_an_order_open_at_the_venue_is_an_orphan_and_a_stale_status_is_stale(tmp_path: Path) -> None:
    resting = report("purge_b", "o-2", OrderType.POST_ONLY_GTD, "0", OrderStatus.OPEN)
    url = journal_with(
        tmp_path,
        [(resting, []), (report("purge_a", "o-1", OrderType.POST_ONLY_GTD, "40", OrderStatus.OPEN), [])],
    )
    counts = judged(audit_of([(resting, []), (FILLED, FILLS)]), url)
    assert counts.counts["orphan_orders"] == 1
    assert counts.counts["stale_orders"] == 1  # FILLED at the venue, OPEN in the database
    assert counts.counts["lost_fills"] == 2


def test_a_second_ioc_of_one_purge_run_is_counted(tmp_path: Path) -> None:
    iocs = [
        (report(f"purge_taker_{n}", f"o-{n}", OrderType.LIMIT_IOC, "0", OrderStatus.CANCELLED), [])
        for n in (1, 2)
    ]
    url = journal_with(tmp_path, iocs, run_id=1)
    assert judged(audit_of(iocs), url).counts["second_iocs"] == 1


def test_the_judge_reads_a_database_with_added_columns_and_tables(tmp_path: Path) -> None:
    url = journal_with(tmp_path, [(FILLED, FILLS)])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE fills ADD COLUMN recorded_in TEXT"))
        connection.execute(text("CREATE TABLE paper_world (name TEXT PRIMARY KEY, document TEXT)"))
    engine.dispose()
    assert judged(audit_of([(FILLED, FILLS)]), url).total == 0


def test_selling_more_than_was_held_and_recording_more_than_held_are_counted() -> None:
    counts = chaos_check.Counts()
    sells = [{"product_id": "ETH-USD", "side": "SELL", "size": "0.3"}] * 2
    chaos_check.sold_beyond_held({"ETH": Decimal("0.5")}, sells, "size", counts)
    chaos_check.holdings_above(
        [{"asset": "PENGU", "size": "2232", "cycle_index": 3}], {"PENGU": Decimal(1116)}, counts
    )
    assert (counts.counts["double_sells"], counts.counts["holdings_over"]) == (1, 1)


@pytest.mark.parametrize(("btc", "missed"), [("0.004", 0), ("0.008", 1)])
def test_a_weight_outside_its_drift_band_is_a_target_miss(btc: str, missed: int) -> None:
    counts = chaos_check.Counts()
    totals = {"BTC": Decimal(btc), "USD": Decimal(600)}
    chaos_check.target_misses(
        totals, {"BTC": Decimal(100_000)}, {"BTC": Decimal("0.4")},
        band=(Decimal("0.02"), Decimal("0.25")), quote="USD", counts=counts,
    )  # fmt: skip
    assert counts.counts["target_misses"] == missed


def venue_order(
    order_id: str, status: str, kind: str = "limit_limit_gtd", side: str = "SELL"
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "client_order_id": f"purge_{order_id}",
        "product_id": "PENGU-USD",
        "side": side,
        "status": status,
        "order_configuration": {kind: {}},
    }


def test_a_kill_moment_counts_only_what_this_life_did() -> None:
    from chaos_bench import chaos_processes  # noqa: PLC0415

    reached = chaos_processes._moment_reached
    before = {"orders": [venue_order("o-1", "OPEN")], "fills": [{"trade_id": "t-1"}]}
    assert not any(reached(moment, before, before) for moment in ("rest", "ioc", "fill", "time"))
    rested = {"orders": [*before["orders"], venue_order("o-2", "OPEN")], "fills": before["fills"]}
    assert reached("rest", before, rested) and not reached("ioc", before, rested)
    ioc = {
        "orders": [*before["orders"], venue_order("o-3", "CANCELLED", "sor_limit_ioc")],
        "fills": before["fills"],
    }
    assert reached("ioc", before, ioc) and not reached("rest", before, ioc)
    filled = {"orders": before["orders"], "fills": [*before["fills"], {"trade_id": "t-2"}]}
    assert reached("fill", before, filled)


def test_two_sells_open_at_once_on_one_product_are_one_double_sell() -> None:
    from chaos_bench import chaos_processes  # noqa: PLC0415

    counts, seen = chaos_check.Counts(), set[tuple[str, str]]()
    one_each = {"orders": [venue_order("o-1", "OPEN"), venue_order("o-2", "OPEN", side="BUY")]}
    chaos_processes._watch_overlaps(one_each, seen, counts)
    assert counts.counts["double_sells"] == 0
    twins = {"orders": [venue_order("o-1", "OPEN"), venue_order("o-2", "CANCEL_QUEUED")]}
    for _ in range(3):  # the same pair seen in three polls is one incident
        chaos_processes._watch_overlaps(twins, seen, counts)
    assert counts.counts["double_sells"] == 1
