"""One cancel-and-confirm routine, on the policy's ``execution.cancel_confirm_timeout_sec``, for the
engine and reconciliation alike. A cancel that sits in CANCEL_QUEUED (and may still fill) is waited
for that long; past it the order stays open in the journal for the next pass."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import OrderAccepted, OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.execution.cancel import CancelUnconfirmedError, ConfirmTiming, cancel_and_confirm
from makerfirst.execution.reconcile import Reconciler
from makerfirst.persistence.store import SqlStore
from simkit import make_exchange, policy_with

CANCEL_TAKES_SEC = 15.0  # the venue keeps the cancel queued this long


def orphan(clock: VirtualClock, tmp_path: Path) -> tuple[object, SqlStore, str]:
    """A resting order a crash left behind: journaled, on the exchange, no task owns it."""
    exchange = make_exchange(clock, cancel_queue=CANCEL_TAKES_SEC)
    store = SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    command = PlaceOrder(
        "mf_orphan", "PENGU-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(100), Decimal("0.05"), 4_000.0
    )
    store.record_intent(command, Purpose.NORMAL, clock.now(), None)
    answer = asyncio.run(exchange.place_order(command))
    assert isinstance(answer, OrderAccepted)
    store.record_accepted(command.client_order_id, answer.order_id)
    return exchange, store, answer.order_id


@pytest.mark.parametrize(("timeout", "confirmed"), [(30, True), (5, False)])
def test_reconciliation_waits_for_a_queued_cancel_as_long_as_the_policy_says(
    tmp_path: Path, timeout: int, confirmed: bool
) -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, store, _ = orphan(clock, tmp_path)
    policy = policy_with(f"execution.cancel_confirm_timeout_sec={timeout}")
    reconciler = Reconciler(exchange, store, clock, policy.execution)  # type: ignore[arg-type]

    report = asyncio.run(reconciler.reconcile())

    row = store.order("mf_orphan")
    assert row is not None and report.cancelled == 1
    if confirmed:
        assert row.status is OrderStatus.CANCELLED and store.open_orders() == []
    else:
        assert row.status is OrderStatus.CANCEL_QUEUED and row.is_open  # the next pass takes it up
        assert clock.now() - 1_000.0 == pytest.approx(timeout, abs=1.0)
        clock.advance_to(clock.now() + CANCEL_TAKES_SEC)
        asyncio.run(reconciler.reconcile())
        row = store.order("mf_orphan")
        assert row is not None and row.status is OrderStatus.CANCELLED and store.open_orders() == []


def test_the_routine_waits_past_the_timeout_until_just_after_the_gtd_end_time(tmp_path: Path) -> None:
    clock = VirtualClock(start=1_000.0)
    exchange, _, order_id = orphan(clock, tmp_path)
    timing = ConfirmTiming(timeout_sec=2.0, poll_sec=0.25)
    with pytest.raises(CancelUnconfirmedError) as unconfirmed:
        asyncio.run(cancel_and_confirm(exchange, clock, order_id, timing))  # type: ignore[arg-type]
    assert unconfirmed.value.last.status is OrderStatus.CANCEL_QUEUED
    final = asyncio.run(
        cancel_and_confirm(exchange, clock, order_id, timing, gtd_end_time=clock.now() + 20.0)  # type: ignore[arg-type]
    )
    assert final.status is OrderStatus.CANCELLED
