"""What the bot remembers: orders from intent to terminal, purge runs, cycles.

These are the domain's view of persisted state; the persistence layer maps them to rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import OrderStatus, OrderType, Side


class OrderState(StrEnum):
    """Where an order stands from our side. ``INTENT`` is written before the request is sent, so
    a crash between the two leaves a row that reconciliation resolves by client id."""

    INTENT = "intent"  # about to be sent, or sent with the answer lost
    ACCEPTED = "accepted"  # the exchange has it; ``status`` says how it stands there
    NOT_CREATED = "not_created"  # refused, or proven never created


@dataclass(frozen=True, slots=True)
class StoredOrder:
    client_order_id: str
    product_id: str
    side: Side
    order_type: OrderType
    purpose: Purpose
    size: Decimal
    limit_price: Decimal
    end_time: float | None
    state: OrderState
    created_at: float
    order_id: str | None = None
    status: OrderStatus | None = None
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    total_fees: Decimal = ZERO
    run_id: int | None = None
    reject_reason: str | None = None
    fills_settled: bool = True  # the recorded fills add up to ``filled_size``

    @property
    def is_open(self) -> bool:
        """Possibly resting on the exchange: an unresolved intent, or accepted and not terminal."""
        if self.state is OrderState.INTENT:
            return True
        return self.state is OrderState.ACCEPTED and (self.status is None or not self.status.is_terminal)


class RunStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PurgeRun:
    """One sell loop for one product, persisted so a restart resumes it instead of starting over."""

    run_id: int
    product_id: str
    purpose: Purpose
    requested_size: Decimal
    status: RunStatus
    started_at: float
    remaining: Decimal
    cushion_ticks: int
    maker_attempts: int
    consecutive_no_fill: int
    taker_sent: bool
    outcome: str | None = None
    side: Side = Side.SELL


@dataclass(frozen=True, slots=True)
class CycleRecord:
    index: int
    started_at: float
    ended_at: float
    cycle_sec: float
    busy_sec: float  # the cycle's own work: refresh, reconcile, decide, dispatch
    requests: int  # every request sent to the venue in the cycle's window, sell loops' included
    io_sec: float  # time in the window with at least one of those in flight, sell loops' included
    intents: int
    reconciled: int

    @property
    def utilization(self) -> float:
        """The cycle's own work over its length: 1.0 means no slack at all. The sell loops run
        beside it and are measured by ``requests`` and ``io_sec``."""
        return self.busy_sec / self.cycle_sec if self.cycle_sec > 0 else 0.0


@dataclass(frozen=True, slots=True)
class HoldingSnapshot:
    """One holding as a cycle saw it: what ``makerfirst status`` shows."""

    asset: str
    size: Decimal
    price: Decimal | None  # mid in the quote currency; None when there is no market
    value: Decimal
    tier: str | None  # T1, T2, T3; None for the quote currency
    target_weight: Decimal | None
    weight: Decimal
    purge_state: str | None  # e.g. "running", "backoff until …", "done: complete"
    dust_reason: str | None
