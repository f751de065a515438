"""The SQL store: SQLite by default, PostgreSQL by URL. Rows are mapped to domain records here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import create_engine, false, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from makerfirst.domain.intents import Purpose
from makerfirst.domain.lifecycle import Accepted, NotCreated, OrderRecord, RecordEvent, Reported, record_move
from makerfirst.domain.orders import (
    TERMINAL_STATUSES,
    Fill,
    Liquidity,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    Side,
)
from makerfirst.domain.records import (
    CycleRecord,
    HoldingSnapshot,
    OrderState,
    PurgeRun,
    RunStatus,
    StoredOrder,
)
from makerfirst.persistence.migrate import upgrade_database
from makerfirst.persistence.schema import CycleRow, FillRow, HoldingRow, OrderRow, PurgeRunRow, StateRow

log = logging.getLogger("makerfirst.persistence")


class SqlStore:
    """Implements :class:`makerfirst.ports.Store`. Every write commits at once: a SIGKILL right
    after a call returns loses nothing that call recorded. An order's report and its fills are
    one transaction (:meth:`record_report`), so a crash never leaves one without the other.

    Opening a store brings its database to the newest schema (``makerfirst db upgrade``)."""

    def __init__(self, url: str) -> None:
        self._engine: Engine = create_engine(url, future=True)
        upgrade_database(self._engine)
        self._session = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    # -- the order journal ------------------------------------------------------------------------
    def record_intent(self, command: PlaceOrder, purpose: Purpose, now: float, run_id: int | None) -> None:
        with self._session.begin() as s:
            s.add(
                OrderRow(
                    client_order_id=command.client_order_id,
                    product_id=command.product_id,
                    side=command.side.value,
                    order_type=command.order_type.value,
                    purpose=purpose.value,
                    size=command.size,
                    limit_price=command.limit_price,
                    end_time=command.end_time,
                    state=OrderState.INTENT.value,
                    filled_size=Decimal(0),
                    filled_value=Decimal(0),
                    total_fees=Decimal(0),
                    run_id=run_id,
                    created_at=now,
                    fills_settled=True,
                )
            )

    def record_accepted(self, client_order_id: str, order_id: str) -> None:
        with self._session.begin() as s:
            row = self._row(s, client_order_id)
            self._move(row, Accepted(order_id))

    def record_not_created(self, client_order_id: str, reason: str) -> None:
        with self._session.begin() as s:
            row = self._row(s, client_order_id)
            if self._move(row, NotCreated(reason)):
                row.reject_reason = reason

    def record_report(self, report: OrderReport, fills: Sequence[Fill] = ()) -> None:
        """The order as the venue reports it, and its ``fills``, in one transaction. A stale or
        illegal report (OPEN after FILLED, fewer fills than recorded) is logged and not written;
        the fills are facts and are kept either way (once per trade id)."""
        with self._session.begin() as s:
            row = self._row(s, report.client_order_id)
            if self._move(row, Reported(report.order_id, report.status, report.filled_size)):
                row.filled_value = report.filled_value
                row.total_fees = report.total_fees
                if report.end_time is not None:
                    row.end_time = report.end_time  # the end time the venue holds, as last sent
            self._add_fills(s, fills)
            s.flush()
            row.fills_settled = _fills_add_up(s, row)

    def record_fills(self, fills: Sequence[Fill]) -> None:
        with self._session.begin() as s:
            self._add_fills(s, fills)
            s.flush()
            order_ids = {f.order_id for f in fills}
            if order_ids:
                for row in s.scalars(select(OrderRow).where(OrderRow.order_id.in_(order_ids))).all():
                    row.fills_settled = _fills_add_up(s, row)

    def unsettled_orders(self) -> list[StoredOrder]:
        """Terminal orders whose recorded fills do not add up to their filled size: a fills read
        that failed or lagged. Reconciliation reads their fills again until they agree."""
        terminal = [status.value for status in TERMINAL_STATUSES]
        with self._session() as s:
            rows = s.scalars(
                select(OrderRow)
                .where(
                    OrderRow.state == OrderState.ACCEPTED.value,
                    OrderRow.status.in_(terminal),
                    OrderRow.fills_settled == false(),
                )
                .order_by(OrderRow.id)
            ).all()
            return [_order(r) for r in rows]

    @staticmethod
    def _move(row: OrderRow, event: RecordEvent) -> bool:
        """Apply the lifecycle's answer to ``row``; True if the event was applied."""
        current = OrderRecord(
            OrderState(row.state),
            OrderStatus(row.status) if row.status else None,
            row.filled_size,
            row.order_id,
        )
        move = record_move(current, event)
        if not move.applied:
            log.warning(
                "Order %s: %s ignored (%s)",
                row.client_order_id,
                type(event).__name__,
                move.ignored,
                extra={"event": "order_move_ignored", "client_order_id": row.client_order_id},
            )
            return False
        new = move.record
        row.state, row.order_id, row.filled_size = new.state.value, new.order_id, new.filled_size
        row.status = None if new.status is None else new.status.value
        return True

    @staticmethod
    def _add_fills(s: Session, fills: Sequence[Fill]) -> None:
        for f in fills:
            known = s.scalar(
                select(FillRow.id).where(FillRow.trade_id == f.trade_id, FillRow.order_id == f.order_id)
            )
            if known is None:
                s.add(
                    FillRow(
                        trade_id=f.trade_id,
                        order_id=f.order_id,
                        product_id=f.product_id,
                        side=f.side.value,
                        price=f.price,
                        size=f.size,
                        fee=f.fee,
                        liquidity=f.liquidity.value,
                        time=f.time,
                    )
                )

    # -- reading orders --------------------------------------------------------------------------
    def open_orders(self) -> list[StoredOrder]:
        with self._session() as s:
            rows = s.scalars(select(OrderRow).where(OrderRow.state != OrderState.NOT_CREATED.value)).all()
            return [o for o in map(_order, rows) if o.is_open]

    def order(self, client_order_id: str) -> StoredOrder | None:
        with self._session() as s:
            row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
            return None if row is None else _order(row)

    def orders_for_run(self, run_id: int) -> list[StoredOrder]:
        with self._session() as s:
            rows = s.scalars(select(OrderRow).where(OrderRow.run_id == run_id).order_by(OrderRow.id)).all()
            return [_order(r) for r in rows]

    def all_orders(self) -> list[StoredOrder]:
        with self._session() as s:
            return [_order(r) for r in s.scalars(select(OrderRow).order_by(OrderRow.id)).all()]

    def all_fills(self) -> list[Fill]:
        with self._session() as s:
            rows = s.scalars(select(FillRow).order_by(FillRow.id)).all()
            return [
                Fill(
                    r.trade_id,
                    r.order_id,
                    r.product_id,
                    Side(r.side),
                    r.price,
                    r.size,
                    r.fee,
                    Liquidity(r.liquidity),
                    r.time,
                )
                for r in rows
            ]

    def adopt(self, report: OrderReport, purpose: Purpose, now: float) -> None:
        with self._session.begin() as s:
            s.add(
                OrderRow(
                    client_order_id=report.client_order_id,
                    order_id=report.order_id,
                    product_id=report.product_id,
                    side=report.side.value,
                    order_type=report.order_type.value,
                    purpose=purpose.value,
                    size=report.size,
                    limit_price=report.limit_price,
                    end_time=report.end_time,
                    state=OrderState.ACCEPTED.value,
                    status=report.status.value,
                    filled_size=report.filled_size,
                    filled_value=report.filled_value,
                    total_fees=report.total_fees,
                    created_at=now,
                    fills_settled=report.filled_size == 0,
                )
            )

    # -- runs and cycles -------------------------------------------------------------------------
    def start_run(
        self,
        product_id: str,
        purpose: Purpose,
        size: Decimal,
        cushion_ticks: int,
        now: float,
        *,
        side: Side = Side.SELL,
    ) -> PurgeRun:
        with self._session.begin() as s:
            row = PurgeRunRow(
                product_id=product_id,
                purpose=purpose.value,
                requested_size=size,
                status=RunStatus.ACTIVE.value,
                started_at=now,
                remaining=size,
                cushion_ticks=cushion_ticks,
                maker_attempts=0,
                consecutive_no_fill=0,
                taker_sent=False,
                side=side.value,
            )
            s.add(row)
            s.flush()
            return _run(row)

    def active_run(self, product_id: str) -> PurgeRun | None:
        with self._session() as s:
            row = s.scalar(
                select(PurgeRunRow)
                .where(PurgeRunRow.product_id == product_id, PurgeRunRow.status == RunStatus.ACTIVE.value)
                .order_by(PurgeRunRow.id.desc())
            )
            return None if row is None else _run(row)

    def save_run(self, run: PurgeRun) -> None:
        with self._session.begin() as s:
            row = s.get_one(PurgeRunRow, run.run_id)
            row.status = run.status.value
            row.remaining = run.remaining
            row.cushion_ticks = run.cushion_ticks
            row.maker_attempts = run.maker_attempts
            row.consecutive_no_fill = run.consecutive_no_fill
            row.taker_sent = run.taker_sent
            row.outcome = run.outcome

    def runs(self) -> list[PurgeRun]:
        with self._session() as s:
            return [_run(r) for r in s.scalars(select(PurgeRunRow).order_by(PurgeRunRow.id)).all()]

    def record_cycle(self, cycle: CycleRecord, holdings: Sequence[HoldingSnapshot] = ()) -> None:
        """The cycle and the holdings it measured, in one transaction."""
        with self._session.begin() as s:
            row = CycleRow(
                index=cycle.index,
                started_at=cycle.started_at,
                ended_at=cycle.ended_at,
                cycle_sec=cycle.cycle_sec,
                busy_sec=cycle.busy_sec,
                utilization=cycle.utilization,
                requests=cycle.requests,
                io_sec=cycle.io_sec,
                intents=cycle.intents,
                reconciled=cycle.reconciled,
            )
            s.add(row)
            s.flush()
            for h in holdings:
                s.add(
                    HoldingRow(
                        cycle_id=row.id,
                        cycle_index=cycle.index,
                        recorded_at=cycle.started_at,
                        asset=h.asset,
                        size=h.size,
                        price=h.price,
                        value=h.value,
                        tier=h.tier,
                        target_weight=h.target_weight,
                        weight=h.weight,
                        purge_state=h.purge_state,
                        dust_reason=h.dust_reason,
                    )
                )

    def cycles(self) -> list[CycleRecord]:
        with self._session() as s:
            rows = s.scalars(select(CycleRow).order_by(CycleRow.id)).all()
            return [
                CycleRecord(
                    index=r.index,
                    started_at=r.started_at,
                    ended_at=r.ended_at,
                    cycle_sec=r.cycle_sec,
                    busy_sec=r.busy_sec,
                    requests=r.requests,
                    io_sec=r.io_sec,
                    intents=r.intents,
                    reconciled=r.reconciled,
                )
                for r in rows
            ]

    def latest_holdings(self) -> list[HoldingSnapshot]:
        """The holdings as the last cycle that measured any saw them (the newest cycle id)."""
        with self._session() as s:
            last = s.scalar(select(func.max(HoldingRow.cycle_id)))
            if last is None:
                return []
            rows = s.scalars(
                select(HoldingRow).where(HoldingRow.cycle_id == last).order_by(HoldingRow.id)
            ).all()
            return [
                HoldingSnapshot(
                    asset=r.asset,
                    size=r.size,
                    price=r.price,
                    value=r.value,
                    tier=r.tier,
                    target_weight=r.target_weight,
                    weight=r.weight,
                    purge_state=r.purge_state,
                    dust_reason=r.dust_reason,
                )
                for r in rows
            ]

    def save_document(self, name: str, document: str) -> None:
        with self._session.begin() as s:
            row = s.get(StateRow, name)
            if row is None:
                s.add(StateRow(name=name, document=document))
            else:
                row.document = document

    def load_document(self, name: str) -> str | None:
        with self._session() as s:
            row = s.get(StateRow, name)
            return None if row is None else row.document

    @staticmethod
    def _row(s: Session, client_order_id: str) -> OrderRow:
        row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
        if row is None:
            raise KeyError(f"no order with client id {client_order_id!r} in the journal")
        return row


def _fills_add_up(s: Session, row: OrderRow) -> bool:
    if row.order_id is None:
        return row.filled_size == 0
    sizes = s.scalars(select(FillRow.size).where(FillRow.order_id == row.order_id)).all()
    return sum(sizes, start=Decimal(0)) == row.filled_size


def _order(r: OrderRow) -> StoredOrder:
    return StoredOrder(
        client_order_id=r.client_order_id,
        product_id=r.product_id,
        side=Side(r.side),
        order_type=OrderType(r.order_type),
        purpose=Purpose(r.purpose),
        size=r.size,
        limit_price=r.limit_price,
        end_time=r.end_time,
        state=OrderState(r.state),
        created_at=r.created_at,
        order_id=r.order_id,
        status=OrderStatus(r.status) if r.status else None,
        filled_size=r.filled_size,
        filled_value=r.filled_value,
        total_fees=r.total_fees,
        run_id=r.run_id,
        reject_reason=r.reject_reason,
        fills_settled=r.fills_settled,
    )


def _run(r: PurgeRunRow) -> PurgeRun:
    return PurgeRun(
        run_id=r.id,
        product_id=r.product_id,
        purpose=Purpose(r.purpose),
        requested_size=r.requested_size,
        status=RunStatus(r.status),
        started_at=r.started_at,
        remaining=r.remaining,
        cushion_ticks=r.cushion_ticks,
        maker_attempts=r.maker_attempts,
        consecutive_no_fill=r.consecutive_no_fill,
        taker_sent=r.taker_sent,
        outcome=r.outcome,
        side=Side(r.side),
    )
