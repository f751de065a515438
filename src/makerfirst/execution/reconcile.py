"""Reconciliation: make the journal and the exchange agree before anything new is sent.

Run at start and every cycle. For every order the journal holds as possibly open:
* an unresolved intent is looked up by client id: found → recorded; absent → "not created";
* an accepted order is re-read; its final status and its fills are recorded;
* an order no live task owns (orphaned by a crash) is cancelled and confirmed terminal, so a
  resumed run never has an old order resting beside its new one. GTD ``end_time`` would end it
  anyway; this does it now.
Orders on the exchange that carry our tags but that the journal never saw are adopted into the
journal (so their fills are kept) and cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from makerfirst.clock import Clock
from makerfirst.domain.errors import OrderNotFoundError
from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import OrderReport
from makerfirst.domain.records import OrderState, StoredOrder
from makerfirst.ports import ExchangePort, Store

log = logging.getLogger("makerfirst.reconcile")

OUR_TAGS = ("purge_", "mf_")  # client-id prefixes our orders carry on the exchange
CONFIRM_TIMEOUT_SEC = 10.0
CONFIRM_POLL_SEC = 0.25


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    resolved: int = 0  # journal rows brought up to date
    not_created: int = 0  # intents the exchange never created
    cancelled: int = 0  # orphaned or unknown orders cancelled
    adopted: int = 0  # tagged exchange orders the journal did not know

    @property
    def changes(self) -> int:
        return self.resolved + self.not_created + self.cancelled + self.adopted


class Reconciler:
    def __init__(self, exchange: ExchangePort, store: Store, clock: Clock) -> None:
        self._exchange = exchange
        self._store = store
        self._clock = clock

    async def reconcile(self, owned: Collection[str] = ()) -> ReconcileReport:
        """Bring the journal in line with the exchange. ``owned``: client ids that a live task
        in this process is handling right now; they are left alone."""
        resolved = not_created = cancelled = adopted = 0
        for order in self._store.open_orders():
            if order.client_order_id in owned:
                continue
            report = await self._resolve(order)
            if report is None:
                self._store.record_not_created(order.client_order_id, "not on the exchange (reconciled)")
                not_created += 1
                continue
            resolved += 1
            if not report.status.is_terminal:
                report = await self._cancel_and_confirm(report)
                cancelled += 1
            await self._record(report)
        for report in await self._exchange.list_open_orders():
            cid = report.client_order_id
            if cid in owned or not cid.startswith(OUR_TAGS) or self._store.order(cid) is not None:
                continue
            purpose = Purpose.PURGE if cid.startswith("purge_") else Purpose.NORMAL  # a label, not a decision
            self._store.adopt(report, purpose, self._clock.now())
            adopted += 1
            log.warning(
                "Adopted unknown order %s on %s; cancelling it",
                cid,
                report.product_id,
                extra={"event": "order_adopted", "client_order_id": cid},
            )
            await self._record(await self._cancel_and_confirm(report))
            cancelled += 1
        result = ReconcileReport(resolved, not_created, cancelled, adopted)
        if result.changes:
            log.info(
                "Reconciled: %d resolved, %d never created, %d cancelled, %d adopted",
                resolved,
                not_created,
                cancelled,
                adopted,
                extra={"event": "reconciled"},
            )
        return result

    async def _resolve(self, order: StoredOrder) -> OrderReport | None:
        if order.state is OrderState.INTENT or order.order_id is None:
            return await self._exchange.find_order_by_client_id(order.client_order_id)
        try:
            return await self._exchange.get_order(order.order_id)
        except OrderNotFoundError:
            return await self._exchange.find_order_by_client_id(order.client_order_id)

    async def _cancel_and_confirm(self, report: OrderReport) -> OrderReport:
        await self._exchange.cancel_orders([report.order_id])
        give_up = self._clock.now() + CONFIRM_TIMEOUT_SEC
        current = await self._exchange.get_order(report.order_id)
        while not current.status.is_terminal and self._clock.now() < give_up:
            await self._clock.sleep_until(self._clock.now() + CONFIRM_POLL_SEC)
            current = await self._exchange.get_order(report.order_id)
        return current

    async def _record(self, report: OrderReport) -> None:
        self._store.record_report(report)
        if report.filled_size > ZERO:
            self._store.record_fills(await self._exchange.list_fills(report.order_id))
