"""Prometheus metrics, computed from the state database at scrape time.

Reading the database (not counters in the bot's memory) makes ``/metrics`` the same whether it is
served by the running bot (``makerfirst run --web``) or afterwards (``makerfirst web --db``), and a
restart never resets a counter. Every family is named ``makerfirst_*``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from makerfirst.domain.orders import OrderType, RejectReason
from makerfirst.domain.records import OrderState, PurgeRun, RunStatus, StoredOrder
from makerfirst.observability.operator_log import ErrorEntry
from makerfirst.ports import HistoryStore

# Coinbase Advanced's private REST limit (requests per second): the rate-limit share of a cycle is
# its requests over what this limit allows in the cycle's length.
RATE_LIMIT_PER_SEC = 30
DEFAULT_TAKER_CAP_BPS = 100  # the design note's taker_max_slippage_bps
PURGE_DURATION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# Logged events that count as API errors, and the kind when the record carries none.
API_ERROR_EVENTS = {
    "request_retry": "retried",
    "cycle_skipped": "cycle_skipped",
    "loop_failed": "loop_failed",
    "order_state_unknown": "state_unknown",
    "create_unanswered": "unanswered",
    "cancel_unanswered": "unanswered",
}


def order_outcome(order: StoredOrder) -> str:
    """``filled``, ``cancelled``, ``expired``, ``failed``, ``rejected`` or ``open``."""
    if order.state is OrderState.NOT_CREATED:
        return "rejected"
    if order.is_open:
        return "open"
    return (order.status.value if order.status else "unknown").lower()


def taker_slippage_bps(order: StoredOrder, cap_bps: int) -> Decimal | None:
    """What a filled IOC gave up under the bid it was priced from, in bps. The IOC's limit is that
    bid less the cap, so the bid is recovered from the limit; the figure is within a tick."""
    if order.order_type is not OrderType.LIMIT_IOC or order.filled_size <= 0:
        return None
    bid = order.limit_price / (1 - Decimal(cap_bps) / 10_000)
    average = order.filled_value / order.filled_size
    return (bid - average) / bid * 10_000


def run_duration_sec(run: PurgeRun, orders: list[StoredOrder], fill_times: dict[str, float]) -> float:
    """From the run's start to its last fill, or to its last order when nothing filled."""
    ends = [fill_times[o.order_id] for o in orders if o.order_id in fill_times]
    ends += [o.created_at for o in orders]
    return max([run.started_at, *ends]) - run.started_at


class StoreCollector(Collector):
    def __init__(
        self,
        store: HistoryStore,
        errors: Callable[[], list[ErrorEntry]] = list,
        paused: Callable[[], bool] = lambda: False,
        taker_cap_bps: int = DEFAULT_TAKER_CAP_BPS,
    ) -> None:
        self._store = store
        self._errors = errors
        self._paused = paused
        self._cap_bps = taker_cap_bps

    def collect(self) -> Iterator[Metric]:
        yield from self._cycles()
        yield from self._orders()
        yield from self._runs()
        yield from self._portfolio()
        yield from self._api_errors()
        yield GaugeMetricFamily("makerfirst_paused", "1 while the kill switch holds the bot", self._paused())

    def _cycles(self) -> Iterable[Metric]:
        cycles = self._store.cycles()
        yield CounterMetricFamily("makerfirst_cycles", "Cycles run", len(cycles))
        yield CounterMetricFamily(
            "makerfirst_requests", "Requests sent to the venue", sum(c.requests for c in cycles)
        )
        yield CounterMetricFamily(
            "makerfirst_reconciliation_fixes",
            "Orders reconciliation resolved, cancelled or adopted",
            sum(c.reconciled for c in cycles),
        )
        last = cycles[-1] if cycles else None
        yield GaugeMetricFamily(
            "makerfirst_cycle_utilization",
            "The last cycle's own work over its length (1 = no slack)",
            last.utilization if last else 0.0,
        )
        yield GaugeMetricFamily(
            "makerfirst_cycle_requests", "Requests in the last cycle's window", last.requests if last else 0
        )
        yield GaugeMetricFamily(
            "makerfirst_rate_limit_share",
            f"The last cycle's requests over what {RATE_LIMIT_PER_SEC}/s allows in its length",
            rate_limit_share(last.requests, last.cycle_sec) if last else 0.0,
        )

    def _orders(self) -> Iterable[Metric]:
        orders = self._store.all_orders()
        by_outcome = CounterMetricFamily("makerfirst_orders", "Orders by outcome", labels=["outcome", "kind"])
        counts = Counter((order_outcome(o), _kind(o)) for o in orders)
        for (outcome, kind), n in sorted(counts.items()):
            by_outcome.add_metric([outcome, kind], n)
        yield by_outcome
        yield CounterMetricFamily(
            "makerfirst_post_only_rejects",
            "Post-only orders the venue refused because they would cross",
            sum(1 for o in orders if o.reject_reason == RejectReason.POST_ONLY_WOULD_CROSS.value),
        )
        takers = [o for o in orders if o.order_type is OrderType.LIMIT_IOC]
        yield CounterMetricFamily("makerfirst_taker_fallbacks", "Taker IOCs sent by purges", len(takers))
        slippages = [s for s in (taker_slippage_bps(o, self._cap_bps) for o in takers) if s is not None]
        yield GaugeMetricFamily(
            "makerfirst_taker_slippage_spent_bps",
            "The last filled taker IOC's slippage under the bid (bps)",
            float(slippages[-1]) if slippages else 0.0,
        )
        yield GaugeMetricFamily(
            "makerfirst_taker_slippage_cap_bps", "The taker IOC's slippage cap (bps)", self._cap_bps
        )
        yield GaugeMetricFamily(
            "makerfirst_open_orders", "Orders possibly resting on the venue", sum(o.is_open for o in orders)
        )

    def _runs(self) -> Iterable[Metric]:
        orders = self._store.all_orders()
        fill_times: dict[str, float] = {}
        for fill in self._store.all_fills():
            fill_times[fill.order_id] = max(fill.time, fill_times.get(fill.order_id, fill.time))
        durations = [
            run_duration_sec(r, [o for o in orders if o.run_id == r.run_id], fill_times)
            for r in self._store.runs()
            if r.status is RunStatus.DONE and r.purpose.value == "purge"
        ]
        buckets = [(f"{b:g}", sum(d <= b for d in durations)) for b in PURGE_DURATION_BUCKETS]
        yield HistogramMetricFamily(
            "makerfirst_purge_duration_seconds",
            "Finished purges, start to last fill",
            buckets=[*buckets, ("+Inf", len(durations))],
            sum_value=sum(durations),
        )
        outcomes = CounterMetricFamily(
            "makerfirst_runs", "Finished sell loops by outcome", labels=["outcome"]
        )
        for outcome, n in sorted(
            Counter(r.outcome or "none" for r in self._store.runs() if r.outcome).items()
        ):
            outcomes.add_metric([outcome], n)
        yield outcomes

    def _portfolio(self) -> Iterable[Metric]:
        holdings = self._store.latest_holdings()
        yield GaugeMetricFamily(
            "makerfirst_equity",
            "Portfolio value in the quote currency",
            float(sum(h.value for h in holdings)),
        )
        yield GaugeMetricFamily(
            "makerfirst_dust_holdings",
            "Holdings in the dust ledger",
            sum(h.dust_reason is not None for h in holdings),
        )

    def _api_errors(self) -> Iterable[Metric]:
        family = CounterMetricFamily("makerfirst_api_errors", "Venue errors by kind", labels=["kind"])
        counts = Counter(
            e.kind or API_ERROR_EVENTS[e.event] for e in self._errors() if e.event in API_ERROR_EVENTS
        )
        for kind, n in sorted(counts.items()):
            family.add_metric([kind], n)
        yield family


def rate_limit_share(requests: int, cycle_sec: float) -> float:
    return requests / (cycle_sec * RATE_LIMIT_PER_SEC) if cycle_sec > 0 else 0.0


def _kind(order: StoredOrder) -> str:
    return "taker" if order.order_type is OrderType.LIMIT_IOC else "maker"


def metrics_registry(collector: StoreCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
