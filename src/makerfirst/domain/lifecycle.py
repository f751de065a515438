"""The order lifecycle as a table: the only legal moves between Coinbase statuses.

An illegal transition raises and changes nothing. ``QUEUED`` and ``PENDING`` are the states
before an order rests; ``CANCEL_QUEUED`` is a cancel accepted but not yet done, during which a
fill can still win the race.
"""

from __future__ import annotations

from makerfirst.domain.orders import OrderStatus

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


class IllegalTransitionError(ValueError):
    """An order was asked to move between two statuses the lifecycle does not connect."""


def transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return ``new`` if the lifecycle allows ``current → new`` (or ``new == current``), else raise."""
    if new is current or new in ALLOWED_TRANSITIONS[current]:
        return new
    raise IllegalTransitionError(f"illegal order transition {current} → {new}")
