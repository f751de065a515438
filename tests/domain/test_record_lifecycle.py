"""The lifecycle table applied to our own records: one pure (record, event) → record function."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makerfirst.domain.lifecycle import (
    ALLOWED_TRANSITIONS,
    Accepted,
    NotCreated,
    OrderRecord,
    RecordEvent,
    Reported,
    record_move,
)
from makerfirst.domain.orders import OrderStatus
from makerfirst.domain.records import OrderState

S = OrderStatus
INTENT = OrderRecord(OrderState.INTENT, None, Decimal(0), None)


def accepted(status: OrderStatus | None, filled: str = "0") -> OrderRecord:
    return OrderRecord(OrderState.ACCEPTED, status, Decimal(filled), "o-1")


def test_an_intent_is_accepted_then_reported_then_filled() -> None:
    record = record_move(INTENT, Accepted("o-1")).record
    assert record == accepted(None)
    record = record_move(record, Reported("o-1", S.OPEN, Decimal(3))).record
    assert record == accepted(S.OPEN, "3")
    assert record_move(record, Reported("o-1", S.FILLED, Decimal(10))).record == accepted(S.FILLED, "10")


def test_a_stale_open_after_filled_is_ignored_and_says_why() -> None:
    move = record_move(accepted(S.FILLED, "10"), Reported("o-1", S.OPEN, Decimal(10)))
    assert not move.applied and move.record == accepted(S.FILLED, "10")
    assert move.ignored is not None and "FILLED → OPEN" in move.ignored


def test_a_report_with_fewer_fills_than_recorded_is_stale() -> None:
    move = record_move(accepted(S.OPEN, "6"), Reported("o-1", S.OPEN, Decimal(4)))
    assert not move.applied and move.record.filled_size == 6


def test_a_terminal_record_is_never_closed_as_not_created() -> None:
    assert not record_move(accepted(S.CANCELLED, "2"), NotCreated("not found")).applied
    assert record_move(INTENT, NotCreated("refused")).record.state is OrderState.NOT_CREATED


def test_a_report_for_another_order_id_is_ignored() -> None:
    assert not record_move(accepted(S.OPEN), Reported("o-2", S.FILLED, Decimal(1))).applied
    assert not record_move(accepted(S.OPEN), Accepted("o-2")).applied


def test_an_order_given_up_on_that_the_venue_shows_after_all_is_reopened() -> None:
    gone = OrderRecord(OrderState.NOT_CREATED, None, Decimal(0), None)
    assert record_move(gone, Reported("o-9", S.OPEN, Decimal(0))).record == OrderRecord(
        OrderState.ACCEPTED, S.OPEN, Decimal(0), "o-9"
    )


events = st.one_of(
    st.builds(Reported, st.just("o-1"), st.sampled_from(list(S)), st.integers(0, 10).map(Decimal)),
    st.builds(Accepted, st.just("o-1")),
    st.builds(NotCreated, st.just("gone")),
)


@given(st.lists(events, max_size=12))
def test_any_sequence_of_events_moves_only_by_the_table_and_never_loses_fills(
    sequence: list[RecordEvent],
) -> None:
    record = INTENT
    for event in sequence:
        before = record
        move = record_move(record, event)
        record = move.record
        if not move.applied:
            assert record == before  # ignored: nothing changes
        if before.state is OrderState.ACCEPTED and record.state is OrderState.ACCEPTED:
            assert record.filled_size >= before.filled_size
            if before.status is not None and record.status is not before.status:
                assert record.status in ALLOWED_TRANSITIONS[before.status]
        if before.status is not None and before.status.is_terminal and before.state is OrderState.ACCEPTED:
            # terminal is final: the status stays; only a later read with more fills is taken
            assert (record.state, record.status) == (before.state, before.status)


@pytest.mark.parametrize("terminal", [S.FILLED, S.CANCELLED, S.EXPIRED, S.FAILED])
def test_nothing_moves_a_terminal_record(terminal: OrderStatus) -> None:
    for status in S:
        if status is not terminal:
            assert not record_move(accepted(terminal, "1"), Reported("o-1", status, Decimal(1))).applied
