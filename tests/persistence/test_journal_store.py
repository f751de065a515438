"""The store persists what the lifecycle decides, and writes a report and its fills together."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import (
    Fill,
    Liquidity,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    Side,
)
from makerfirst.domain.records import OrderState
from makerfirst.persistence.store import SqlStore

CID, OID = "mf_1", "o-1"


def report(status: OrderStatus, filled: str) -> OrderReport:
    size = Decimal(filled)
    return OrderReport(
        OID, CID, "PENGU-USD", Side.SELL, OrderType.POST_ONLY_GTD, status, Decimal(10), Decimal("0.03"),
        size, size * Decimal("0.03"), Decimal(0), 1_000.0, 1_020.0,
    )  # fmt: skip


def fill(trade_id: str, size: str, price: object = None) -> Fill:
    return Fill(
        trade_id, OID, "PENGU-USD", Side.SELL, price or Decimal("0.03"), Decimal(size), Decimal(0),
        Liquidity.MAKER, 1_001.0,
    )  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def store(db_url: str) -> SqlStore:
    store = SqlStore(db_url)
    command = PlaceOrder(
        CID, "PENGU-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(10), Decimal("0.03"), 1_015.0
    )
    store.record_intent(command, Purpose.NORMAL, 1_000.0, None)
    store.record_accepted(CID, OID)
    return store


def test_a_stale_open_read_never_moves_a_filled_order_back(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.record_report(report(OrderStatus.FILLED, "10"))
    with caplog.at_level(logging.WARNING, logger="makerfirst.persistence"):
        store.record_report(report(OrderStatus.OPEN, "4"))
    row = store.order(CID)
    assert row is not None and (row.status, row.filled_size) == (OrderStatus.FILLED, Decimal(10))
    assert [getattr(r, "event", None) for r in caplog.records] == ["order_move_ignored"]
    assert store.open_orders() == []


def test_not_created_after_filled_is_ignored(store: SqlStore) -> None:
    store.record_report(report(OrderStatus.FILLED, "10"))
    store.record_not_created(CID, "not on the exchange (reconciled)")
    row = store.order(CID)
    assert row is not None and row.state is OrderState.ACCEPTED and row.reject_reason is None


def test_a_report_and_its_fills_are_one_transaction(store: SqlStore) -> None:
    """A fill that cannot be written takes the terminal report down with it: the order stays open
    in the journal, for reconciliation to read again, instead of FILLED without its fills."""
    with pytest.raises(Exception, match="money columns take Decimal"):
        store.record_report(
            report(OrderStatus.FILLED, "10"), [fill("t-1", "6"), fill("t-2", "4", price=0.03)]
        )
    row = store.order(CID)
    assert row is not None and row.status is None and row.is_open
    assert store.all_fills() == []


def test_fills_are_kept_once_and_settle_the_order_when_they_add_up(store: SqlStore) -> None:
    store.record_report(report(OrderStatus.FILLED, "10"), [fill("t-1", "6")])  # the listing lagged
    assert [o.client_order_id for o in store.unsettled_orders()] == [CID]
    store.record_report(report(OrderStatus.FILLED, "10"), [fill("t-1", "6"), fill("t-2", "4")])
    store.record_fills([fill("t-2", "4")])
    assert sorted(f.trade_id for f in store.all_fills()) == ["t-1", "t-2"]
    assert store.unsettled_orders() == []
    row = store.order(CID)
    assert row is not None and row.fills_settled and row.end_time == 1_020.0  # the venue's end time
