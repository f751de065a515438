"""The order lifecycle as a table: the only legal moves between Coinbase statuses.

An illegal transition raises and changes nothing. ``QUEUED`` and ``PENDING`` are the states
before an order rests; ``CANCEL_QUEUED`` is a cancel accepted but not yet done, during which a
fill can still win the race.

The same table governs the journal's own records (:func:`record_move`): there an illegal or
stale event is not an error but is ignored, and the record stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.domain.errors import IllegalTransitionError as IllegalTransitionError  # noqa: PLC0414  # re-exported
from makerfirst.domain.orders import OrderStatus
from makerfirst.domain.records import OrderState

S = OrderStatus

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.QUEUED: frozenset({S.PENDING, S.OPEN, S.FILLED, S.CANCELLED, S.EXPIRED, S.FAILED, S.CANCEL_QUEUED}),
    S.PENDING: frozenset({S.OPEN, S.FILLED, S.CANCELLED, S.EXPIRED, S.FAILED, S.CANCEL_QUEUED}),
    S.OPEN: frozenset({S.FILLED, S.CANCELLED, S.EXPIRED, S.FAILED, S.CANCEL_QUEUED}),
    S.CANCEL_QUEUED: frozenset({S.CANCELLED, S.FILLED, S.EXPIRED, S.FAILED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.FAILED: frozenset(),
}


def transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return ``new`` if the lifecycle allows ``current → new`` (or ``new == current``), else raise."""
    if new is current or new in ALLOWED_TRANSITIONS[current]:
        return new
    raise IllegalTransitionError(f"illegal order transition {current} → {new}")


# -- our own records ------------------------------------------------------------------------------
# The journal's row for an order moves by the same table: ``record_move`` is the one place that
# decides what a row becomes when something happens to it, and the store only persists its answer.


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What our journal says about one order: where it stands from our side and on the venue."""

    state: OrderState
    status: OrderStatus | None
    filled_size: Decimal
    order_id: str | None


@dataclass(frozen=True, slots=True)
class Accepted:
    """Event: the venue answered our create with this order id."""

    order_id: str


@dataclass(frozen=True, slots=True)
class NotCreated:
    """Event: the venue refused the create, or reconciliation proved the order is not there."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reported:
    """Event: a read of the order on the venue (``get_order``, a listing, a terminal confirm)."""

    order_id: str
    status: OrderStatus
    filled_size: Decimal


RecordEvent = Accepted | NotCreated | Reported


@dataclass(frozen=True, slots=True)
class RecordMove:
    """The answer of :func:`record_move`: the record to persist, or why the event was ignored."""

    record: OrderRecord
    ignored: str | None = None

    @property
    def applied(self) -> bool:
        return self.ignored is None


def record_move(current: OrderRecord, event: RecordEvent) -> RecordMove:
    """What ``current`` becomes after ``event``; a stale or illegal event leaves it as it is.

    * ``Accepted``: an intent (or one we had given up on) becomes accepted; a second answer naming
      another order id is ignored.
    * ``NotCreated``: an intent, or an accepted order the venue no longer knows, is closed; a
      terminal record is never reopened or closed again.
    * ``Reported``: the status moves by :data:`ALLOWED_TRANSITIONS` and the filled size never
      shrinks, so a stale read (OPEN after FILLED, fewer fills than recorded) changes nothing.
    """
    if isinstance(event, Accepted):
        return _accepted(current, event)
    if isinstance(event, NotCreated):
        return _not_created(current)
    return _reported(current, event)


def _ignored(current: OrderRecord, why: str) -> RecordMove:
    return RecordMove(current, ignored=why)


def _accepted(current: OrderRecord, event: Accepted) -> RecordMove:
    if current.state is OrderState.ACCEPTED:
        if current.order_id in (None, event.order_id):
            return RecordMove(replace(current, order_id=event.order_id))
        return _ignored(current, f"already accepted as order {current.order_id}, not {event.order_id}")
    return RecordMove(replace(current, state=OrderState.ACCEPTED, order_id=event.order_id))


def _not_created(current: OrderRecord) -> RecordMove:
    if current.state is OrderState.NOT_CREATED:
        return RecordMove(current)
    if current.state is OrderState.ACCEPTED and current.status is not None and current.status.is_terminal:
        return _ignored(current, f"already {current.status}")
    return RecordMove(replace(current, state=OrderState.NOT_CREATED))


def _reported(current: OrderRecord, event: Reported) -> RecordMove:
    if current.order_id is not None and current.order_id != event.order_id:
        return _ignored(current, f"a report for order {event.order_id}, recorded as {current.order_id}")
    if event.filled_size < current.filled_size:
        return _ignored(
            current, f"stale: {event.filled_size} filled reported, {current.filled_size} recorded"
        )
    known = current.status if current.state is OrderState.ACCEPTED else None
    if known is not None and event.status is not known and event.status not in ALLOWED_TRANSITIONS[known]:
        return _ignored(current, f"illegal or stale move {known} → {event.status}")
    return RecordMove(OrderRecord(OrderState.ACCEPTED, event.status, event.filled_size, event.order_id))
