"""Reconciliation: make the journal and the exchange agree before anything new is sent.

Run at start and every cycle. For every order the journal holds as possibly open:
* an unresolved intent is looked up by client id: found → recorded; absent → "not created";
* an accepted order is re-read; its final status and its fills are recorded together;
* an order no live task owns (orphaned by a crash) is cancelled and confirmed terminal, so a
  resumed run never has an old order resting beside its new one. GTD ``end_time`` would end it
  anyway; this does it now.
Terminal orders whose recorded fills do not add up to their filled size (a fills read that
failed or lagged; a crash of an earlier release between its two writes) are read again, every
pass, until they agree. Orders on the exchange that carry our tags but that the journal never
saw, or had given up on, are recorded (so their fills are kept) and cancelled.

Fills are always read before anything is written, and an order's report and fills are written in
one transaction: a failure on the way leaves the journal as it was, for the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass

from makerfirst.clock import Clock
from makerfirst.domain.errors import OrderNotFoundError
from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import OrderReport
from makerfirst.domain.records import OrderState, StoredOrder
from makerfirst.execution.cancel import CancelUnconfirmedError, ConfirmTiming, cancel_and_confirm
from makerfirst.policy import ExecutionPolicy
from makerfirst.ports import ExchangePort, Store

log = logging.getLogger("makerfirst.reconcile")

OUR_TAGS = ("purge_", "mf_")  # client-id prefixes our orders carry on the exchange


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    resolved: int = 0  # journal rows brought up to date
    not_created: int = 0  # intents the exchange never created
    cancelled: int = 0  # orphaned or unknown orders cancelled
    adopted: int = 0  # tagged exchange orders the journal did not know
    settled: int = 0  # terminal orders whose missing fills were recorded

    @property
    def changes(self) -> int:
        return self.resolved + self.not_created + self.cancelled + self.adopted + self.settled


class Reconciler:
    def __init__(
        self, exchange: ExchangePort, store: Store, clock: Clock, execution: ExecutionPolicy | None = None
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._clock = clock
        self._confirm = ConfirmTiming.of(execution or ExecutionPolicy())

    async def reconcile(self, owned: Collection[str] = ()) -> ReconcileReport:
        """Bring the journal in line with the exchange. ``owned``: client ids that a live task
        in this process is handling right now; they are left alone."""
        resolved = not_created = cancelled = adopted = settled = 0
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
        for order in self._store.unsettled_orders():
            if order.order_id is not None and await self._settle(order.order_id, order):
                settled += 1
        for report in await self._exchange.list_open_orders():
            cid = report.client_order_id
            if cid in owned or not cid.startswith(OUR_TAGS):
                continue
            known = self._store.order(cid)
            if known is not None and known.is_open:
                continue  # resolved above, or placed since by a live task
            if known is None:
                purpose = Purpose.PURGE if cid.startswith("purge_") else Purpose.NORMAL  # a label only
                self._store.adopt(report, purpose, self._clock.now())
                adopted += 1
            log.warning(
                "%s order %s on %s; cancelling it",
                "Adopted unknown" if known is None else f"Open on the exchange, {known.state} here:",
                cid,
                report.product_id,
                extra={"event": "order_adopted", "client_order_id": cid},
            )
            await self._record(await self._cancel_and_confirm(report))
            cancelled += 1
        result = ReconcileReport(resolved, not_created, cancelled, adopted, settled)
        if result.changes:
            log.info(
                "Reconciled: %d resolved, %d never created, %d cancelled, %d adopted, %d fills completed",
                resolved,
                not_created,
                cancelled,
                adopted,
                settled,
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
        """The shared cancel-and-confirm, on the policy's timeout alone (the cycle does not wait
        for a GTD end time): a cancel not confirmed in time is recorded as last read and stays
        open in the journal, so the next pass takes it up again."""
        try:
            return await cancel_and_confirm(self._exchange, self._clock, report.order_id, self._confirm)
        except CancelUnconfirmedError as unconfirmed:
            log.warning("%s", unconfirmed, extra={"event": "cancel_unconfirmed", "order_id": report.order_id})
            return unconfirmed.last

    async def _record(self, report: OrderReport) -> None:
        fills = await self._exchange.list_fills(report.order_id) if report.filled_size > ZERO else []
        self._store.record_report(report, fills)

    async def _settle(self, order_id: str, order: StoredOrder) -> bool:
        """Read a terminal order and its fills again; True once the recorded fills add up."""
        with suppress(OrderNotFoundError):  # a venue that no longer knows it (a fresh paper world)
            await self._record(await self._exchange.get_order(order_id))
        now = self._store.order(order.client_order_id)
        if now is not None and not now.fills_settled:
            log.warning(
                "Order %s: its recorded fills do not add up to %s filled; reading them again next pass",
                order.client_order_id,
                order.filled_size,
                extra={"event": "fills_unsettled", "client_order_id": order.client_order_id},
            )
            return False
        return True
