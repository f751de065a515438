"""Cancel an order and confirm it terminal: the one routine the engine and reconciliation share.

A cancel accepted is not a cancel done: the order may sit in ``CANCEL_QUEUED`` a while, and a
fill can still win the race. So the order is read until it is terminal, for the policy's
``execution.cancel_confirm_timeout_sec`` — or, for a GTD order, until just past its
``end_time``, whichever is later, since the venue ends it then at the latest. Past both, its
state is unknown and is left to reconciliation (``CancelUnconfirmedError``), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from makerfirst.clock import Clock
from makerfirst.domain.errors import CancelUnconfirmedError as CancelUnconfirmedError  # noqa: PLC0414  # re-exported
from makerfirst.domain.orders import OrderReport
from makerfirst.policy import ExecutionPolicy
from makerfirst.ports import ExchangePort

MAX_CONFIRM_POLL_SEC = 0.25  # a cancel settles within a request or two: read it back promptly


@dataclass(frozen=True, slots=True)
class ConfirmTiming:
    """How long, and how often, a cancelled (or IOC) order is read until it is terminal."""

    timeout_sec: float
    poll_sec: float

    @classmethod
    def of(cls, execution: ExecutionPolicy) -> ConfirmTiming:
        poll = min(float(execution.order_poll_interval_sec), MAX_CONFIRM_POLL_SEC)
        return cls(float(execution.cancel_confirm_timeout_sec), poll)


async def confirm_terminal(
    exchange: ExchangePort,
    clock: Clock,
    order_id: str,
    timing: ConfirmTiming,
    *,
    gtd_end_time: float | None = None,
) -> OrderReport:
    """Read the order until it is terminal; past the timeout (and ``gtd_end_time``), raise."""
    give_up = clock.now() + timing.timeout_sec
    if gtd_end_time is not None:
        give_up = max(give_up, gtd_end_time + timing.poll_sec)
    while True:
        current = await exchange.get_order(order_id)
        if current.status.is_terminal:
            return current
        if clock.now() >= give_up:
            raise CancelUnconfirmedError(
                f"order {order_id} is still {current.status} after cancel; reconcile before trading it again",
                current,
            )
        await clock.sleep_until(clock.now() + timing.poll_sec)


async def cancel_and_confirm(
    exchange: ExchangePort,
    clock: Clock,
    order_id: str,
    timing: ConfirmTiming,
    *,
    gtd_end_time: float | None = None,
) -> OrderReport:
    """Cancel the order and return it terminal, with every fill that raced the cancel counted."""
    await exchange.cancel_orders([order_id])
    return await confirm_terminal(exchange, clock, order_id, timing, gtd_end_time=gtd_end_time)
