"""Prometheus metrics from the state database, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import OrderType, PlaceOrder, Side
from makerfirst.domain.records import CycleRecord
from makerfirst.observability.kill_switch import PauseState, write_pause
from makerfirst.observability.metrics import metrics_registry, render_metrics
from makerfirst.observability.operator_log import ErrorLogHandler, ensure_tables, error_entries
from makerfirst.persistence.store import SqlStore
from makerfirst.web.data import DashboardData


def scrape(data: DashboardData) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = render_metrics(metrics_registry(data.collector())).decode()
    return {
        f.name: [(dict(s.labels), s.value) for s in f.samples] for f in text_string_to_metric_families(text)
    }


def test_rejects_errors_cycles_and_the_pause_are_counted_from_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store, engine = SqlStore(url), create_engine(url)
    ensure_tables(engine)
    order = PlaceOrder(
        "purge_a1", "PENGU-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(1116), Decimal("0.0145"), 1.0
    )
    store.record_intent(order, Purpose.PURGE, 0.0, None)
    store.record_not_created("purge_a1", "INVALID_LIMIT_PRICE_POST_ONLY")
    store.record_cycle(CycleRecord(0, 0.0, 60.0, 60.0, 0.6, 900, 3.0, 1, 2))
    log = logging.getLogger("makerfirst.metrics-test")
    handler = ErrorLogHandler(engine, now=lambda: 42.0)
    log.addHandler(handler)
    try:
        for kind in ("rate_limited", "rate_limited", "transient"):
            log.warning("retrying", extra={"event": "request_retry", "kind": kind})
        log.error("Cycle 2 skipped", extra={"event": "cycle_skipped", "error": "AuthenticationError"})
        log.info("not an error: not kept")
    finally:
        log.removeHandler(handler)
    assert [e.at for e in error_entries(engine)] == [42.0] * 4
    write_pause(store, PauseState(True, 1.0, "test", "drill"))

    metrics = scrape(DashboardData(store, engine))
    assert metrics["makerfirst_post_only_rejects"] == [({}, 1.0)]
    assert ({"outcome": "rejected", "kind": "maker"}, 1.0) in metrics["makerfirst_orders"]
    api_errors = {labels["kind"]: value for labels, value in metrics["makerfirst_api_errors"]}
    assert api_errors == {"rate_limited": 2.0, "transient": 1.0, "AuthenticationError": 1.0}
    assert metrics["makerfirst_cycle_utilization"] == [({}, 0.01)]
    assert metrics["makerfirst_rate_limit_share"] == [({}, 0.5)]  # 900 requests in 60 s against 30/s
    assert metrics["makerfirst_reconciliation_fixes"] == [({}, 2.0)]
    assert metrics["makerfirst_paused"] == [({}, 1.0)]
