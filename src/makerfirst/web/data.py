"""What the dashboard shows, read from the state database as JSON-ready dicts (money as decimal
strings). Pages and the REST API render the same dicts, so they never disagree.

Reads go through the store's public methods; the holdings history and the operator's tables are
read with SQLAlchemy Core, naming only the columns used, so columns added later are tolerated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Engine

from makerfirst.domain.money import plain
from makerfirst.domain.orders import OrderType
from makerfirst.domain.records import HoldingSnapshot, StoredOrder
from makerfirst.observability import operator_log
from makerfirst.observability.kill_switch import PauseState, read_pause
from makerfirst.observability.metrics import (
    DEFAULT_TAKER_CAP_BPS,
    StoreCollector,
    order_outcome,
    rate_limit_share,
    taker_slippage_bps,
)
from makerfirst.persistence.schema import HoldingRow
from makerfirst.ports import HistoryStore

Json = dict[str, Any]
HOLDINGS: Table = HoldingRow.__table__  # type: ignore[assignment]  # a declarative class's table


def _money(value: Decimal | None, places: str | None = None) -> str | None:
    if value is None:
        return None
    return plain(value.quantize(Decimal(places)) if places else value)


class DashboardData:
    def __init__(
        self,
        store: HistoryStore,
        engine: Engine,
        now: Callable[[], float] | None = None,
        taker_cap_bps: int = DEFAULT_TAKER_CAP_BPS,
    ) -> None:
        """``now``: the bot's clock when the dashboard runs beside it; else ages are measured
        from the last recorded cycle (a database from a virtual-clock run has no wall time)."""
        self.store = store
        self.engine = engine
        self._now = now
        self.taker_cap_bps = taker_cap_bps
        operator_log.ensure_tables(engine)

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()

    def collector(self) -> StoreCollector:
        return StoreCollector(
            self.store,
            lambda: operator_log.error_entries(self.engine, 10_000),
            lambda: self.pause().paused,
            self.taker_cap_bps,
        )

    # -- time and state --------------------------------------------------------------------------
    def as_of(self) -> float:
        if self._now is not None:
            return self._now()
        cycles = self.store.cycles()
        return cycles[-1].ended_at if cycles else time.time()

    def pause(self) -> PauseState:
        return read_pause(self.store)

    def control(self) -> Json:
        state = self.pause()
        return {
            "paused": state.paused,
            "changed_at": state.changed_at,
            "actor": state.actor,
            "reason": state.reason,
            "audit": [
                {"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}
                for a in operator_log.audit_entries(self.engine)
            ],
        }

    # -- pages -----------------------------------------------------------------------------------
    def overview(self) -> Json:
        cycles = self.store.cycles()
        runs = self.purges()
        return {
            "as_of": self.as_of(),
            "paused": self.pause().paused,
            "cycles": len(cycles),
            "equity": self.equity_series(),
            "cycle_series": [
                {
                    "index": c.index,
                    "started_at": c.started_at,
                    "utilization": c.utilization,
                    "rate_limit_share": rate_limit_share(c.requests, c.cycle_sec),
                    "requests": c.requests,
                    "intents": c.intents,
                }
                for c in cycles
            ],
            "holdings": self.holdings(),
            "purges": [
                {k: r[k] for k in ("run_id", "product", "purpose", "status", "outcome")} for r in runs
            ],
            "dust": self.dust(),
            "open_orders": len(self.store.open_orders()),
            "errors": len(operator_log.error_entries(self.engine, 10_000)),
        }

    def equity_series(self) -> list[Json]:
        """Portfolio value per recorded cycle (the sum of the holdings' values)."""
        totals: dict[float, Decimal] = {}
        query = select(HOLDINGS.c.recorded_at, HOLDINGS.c.value).order_by(HOLDINGS.c.id)
        with self.engine.connect() as conn:
            for recorded_at, value in conn.execute(query):
                totals[recorded_at] = totals.get(recorded_at, Decimal(0)) + Decimal(str(value))
        return [{"at": at, "value": _money(v, "0.01")} for at, v in sorted(totals.items())]

    def holdings(self) -> list[Json]:
        return [_holding(h) for h in self.store.latest_holdings()]

    def dust(self) -> list[Json]:
        """The dust ledger: each entry with its reason and the value it had when set aside."""
        document = self.store.load_document("portfolio_state")
        ledger: dict[str, Any] = json.loads(document).get("dust", {}) if document else {}
        out = []
        for asset, entry in sorted(ledger.items()):
            size, price = Decimal(entry.get("size", "0")), entry.get("price")
            value = size * Decimal(price) if price is not None else None
            out.append(
                {
                    "asset": asset,
                    "reason": entry.get("reason"),
                    "size": plain(size),
                    "price": price,
                    "value_usd": _money(value, "0.01"),
                    "recorded_at": entry.get("recorded_at"),
                }
            )
        known = {d["asset"] for d in out}
        for h in self.store.latest_holdings():  # a ledger kept elsewhere still shows in the holdings
            if h.dust_reason and h.asset not in known:
                out.append(
                    {
                        "asset": h.asset,
                        "reason": h.dust_reason,
                        "size": plain(h.size),
                        "price": _money(h.price),
                        "value_usd": _money(h.value, "0.01"),
                        "recorded_at": None,
                    }
                )
        return out

    def open_orders(self) -> list[Json]:
        now = self.as_of()
        mids = {h.asset: h.price for h in self.store.latest_holdings() if h.price is not None}
        out = []
        for o in self.store.open_orders():
            mid = mids.get(o.product_id.split("-", 1)[0])
            out.append(
                {
                    **_order(o),
                    "age_sec": round(now - o.created_at, 3),
                    "ttl_left_sec": None if o.end_time is None else round(o.end_time - now, 3),
                    "vs_last_mid_bps": None
                    if not mid
                    else _money((o.limit_price - mid) / mid * 10_000, "0.1"),
                }
            )
        return out

    def purges(self) -> list[Json]:
        """Every sell loop (purges and rebalancing trades) with its attempts in order."""
        fills_by_order: dict[str, list[Json]] = {}
        for f in self.store.all_fills():
            fills_by_order.setdefault(f.order_id, []).append(
                {
                    "price": plain(f.price),
                    "size": plain(f.size),
                    "liquidity": f.liquidity.value,
                    "time": f.time,
                }
            )
        out = []
        for run in self.store.runs():
            attempts = []
            for i, o in enumerate(self.store.orders_for_run(run.run_id), start=1):
                slippage = taker_slippage_bps(o, self.taker_cap_bps)
                attempts.append(
                    {
                        **_order(o),
                        "index": i,
                        "kind": "taker" if o.order_type is OrderType.LIMIT_IOC else "maker",
                        "started_after_sec": round(o.created_at - run.started_at, 3),
                        "ends_after_sec": None
                        if o.end_time is None
                        else round(o.end_time - run.started_at, 3),
                        "slippage_bps": _money(slippage, "0.01"),
                        "slippage_cap_bps": self.taker_cap_bps
                        if o.order_type is OrderType.LIMIT_IOC
                        else None,
                        "fills": fills_by_order.get(o.order_id or "", []),
                    }
                )
            out.append(
                {
                    "run_id": run.run_id,
                    "product": run.product_id,
                    "purpose": run.purpose.value,
                    "side": run.side.value,
                    "requested_size": plain(run.requested_size),
                    "remaining": plain(run.remaining),
                    "status": run.status.value,
                    "outcome": run.outcome,
                    "taker_sent": run.taker_sent,
                    "started_at": run.started_at,
                    "attempts": attempts,
                }
            )
        return out

    def fills(self) -> list[Json]:
        return [
            {
                "trade_id": f.trade_id,
                "order_id": f.order_id,
                "product": f.product_id,
                "side": f.side.value,
                "price": plain(f.price),
                "size": plain(f.size),
                "fee": plain(f.fee),
                "liquidity": f.liquidity.value,
                "time": f.time,
            }
            for f in self.store.all_fills()
        ]

    def errors(self) -> list[Json]:
        return [
            {
                "at": e.at,
                "level": e.level,
                "event": e.event,
                "kind": e.kind,
                "product": e.product_id,
                "message": e.message,
            }
            for e in operator_log.error_entries(self.engine)
        ]


def _holding(h: HoldingSnapshot) -> Json:
    return {
        "asset": h.asset,
        "size": plain(h.size),
        "price": _money(h.price),
        "value_usd": _money(h.value, "0.01"),
        "tier": h.tier,
        "target_weight": _money(h.target_weight),
        "weight": _money(h.weight, "0.0001"),
        "purge_state": h.purge_state,
        "dust_reason": h.dust_reason,
    }


def _order(o: StoredOrder) -> Json:
    return {
        "client_order_id": o.client_order_id,
        "order_id": o.order_id,
        "product": o.product_id,
        "side": o.side.value,
        "order_type": o.order_type.value,
        "purpose": o.purpose.value,
        "price": plain(o.limit_price),
        "size": plain(o.size),
        "filled_size": plain(o.filled_size),
        "avg_fill_price": _money(o.filled_value / o.filled_size, "0.00000001") if o.filled_size > 0 else None,
        "fees": plain(o.total_fees),
        "state": o.state.value,
        "status": o.status.value if o.status else None,
        "outcome": order_outcome(o),
        "reject_reason": o.reject_reason,
        "created_at": o.created_at,
        "end_time": o.end_time,
    }
