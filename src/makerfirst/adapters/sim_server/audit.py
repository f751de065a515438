"""The simulator's ground truth: every order and fill, for tests and for ``--audit-file``.

The audit is what the exchange knows, read without a request; a client's view of its orders can
be checked against it (an order created behind a timed-out answer shows up here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from makerfirst.adapters.sim_server import wire
from makerfirst.domain.money import plain
from makerfirst.domain.orders import Fill, OrderReport


def order_record(report: OrderReport, configuration: wire.Json) -> wire.Json:
    return {
        "order_id": report.order_id,
        "client_order_id": report.client_order_id,
        "product_id": report.product_id,
        "side": report.side.value,
        "order_configuration": configuration,
        "status": report.status.value,
        "filled_size": plain(report.filled_size),
        "filled_value": plain(report.filled_value),
        "total_fees": plain(report.total_fees),
        "created_time": wire.rfc3339(report.created_time),
    }


def fill_record(f: Fill) -> wire.Json:
    return {
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "product_id": f.product_id,
        "side": f.side.value,
        "price": plain(f.price),
        "size": plain(f.size),
        "commission": plain(f.fee),
        "liquidity_indicator": f.liquidity.value,
        "trade_time": wire.rfc3339(f.time),
    }


class AuditFile:
    """Appends one JSON line per change: ``{"event": "order", ...}`` whenever an order appears or
    its status or filled size changes, ``{"event": "fill", ...}`` once per fill."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._orders_seen: dict[str, tuple[str, str]] = {}
        self._fills_seen = 0

    def record(self, orders: list[wire.Json], fills: list[wire.Json]) -> None:
        """Write what changed since the last call (``fills`` only ever grows, in order)."""
        lines: list[dict[str, Any]] = []
        for o in orders:
            state = (o["status"], o["filled_size"])
            if self._orders_seen.get(o["order_id"]) != state:
                self._orders_seen[o["order_id"]] = state
                lines.append({"event": "order", **o})
        lines += [{"event": "fill", **f} for f in fills[self._fills_seen :]]
        self._fills_seen = len(fills)
        if lines:
            with self._path.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(line) + "\n" for line in lines)
