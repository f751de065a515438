"""Cycle budget: the main loop over N products (50) with M purges (20) in flight, against the sim-server.

The bot (``Runner`` with the ccxt adapter, exactly as ``makerfirst run --exchange coinbase`` builds
it) talks HTTP to a Coinbase-compatible sim-server on 127.0.0.1 that adds 50 ms to every request
and enforces Coinbase's rate limits (30 private / 10 public requests per second; the adapter paces
itself inside them). ``--products 50 --purges 20``: 30 in the universe (target weights, forced
T1) and 20 junk holdings of ~$20 on dead books, which the portfolio step purges, each purge loop
resting 25 s then 20 s maker orders before its taker fallback (other sizes keep these
proportions: $100 per universe asset, as much USD, weights 0.6/universe). The junk arrives
staggered: its holdings are split over the cycles and each share is deposited just before its
cycle starts, so every cycle has purges to start and run (all 20 at once in the first cycle
would leave the later ones idle and their p50 meaningless). Real time: 60 s cycles.

    .venv/bin/python bench/cycle_budget.py [--products 50] [--purges 20] [--cycles 4] [--cycle-sec 60]
        [--stream]

``--stream``: the venue is the streaming adapter (``adapters/coinbase_stream``: books from
``level2``, order states from ``user``, REST for placing, cancelling, fills and balances) in
front of the same ccxt adapter, on the server's WebSocket feed, as ``makerfirst run --stream``
builds it.

Prints, per cycle and as p50/p95:

* utilization, three ways, each over the cycle's length: ``cpu``, the bot's CPU time in the
  cycle's window (its event-loop thread: the cycle, the purge loops, the ccxt client; the
  sim-server runs in its own thread and is not counted); ``in flight``, the wall time with at
  least one request of the bot in flight, the purge loops' included; ``own``, the wall time of the
  cycle's own work alone (refresh, reconcile, decide, dispatch: what earlier versions reported);
* bot count: the requests the bot sent to the venue over REST in the cycle's window, the purge
  loops' included, public ones (books, products) too, as the runner's cycle record counts them (a
  book or an order state the stream answers is no request; a product ccxt has cached is one,
  though no HTTP request);
* requests: the private HTTP requests the *server* counted in the cycle's window (a paged read's
  pages and a retry included) and their share of Coinbase's private limit (30/s) over the cycle;
  then by route, and the busiest 60 s window as a share of the limit (30/s × 60 s): what the rate
  limit sees, the target being under 25 %.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.bootstrap import build_runner, build_streaming_exchange, open_store
from makerfirst.clock import SystemClock
from makerfirst.domain.product import Product
from makerfirst.domain.records import CycleRecord
from makerfirst.policy import load_policy
from makerfirst.ports import ExchangePort

JUNK_BALANCE = Decimal(1380)  # ~$20 at the 0.0145 mid: under the policy's $50 purge threshold
PRIVATE_RATE_LIMIT = 30  # Coinbase Advanced: private requests per second
WINDOW_SEC = 60.0  # the busiest minute
CPU_SAMPLE_SEC = 0.05


@dataclass(frozen=True, slots=True)
class Shape:
    """``universe`` assets on their targets and ``junk`` holdings to purge."""

    universe: int
    junk: int

    def junk_assets(self) -> list[str]:
        return [f"J{i:03d}" for i in range(self.universe, self.universe + self.junk)]

    def universe_assets(self) -> list[str]:
        return [f"A{i:03d}" for i in range(self.universe)]


def products(shape: Shape) -> tuple[list[Product], dict[str, str], dict[str, str], list[str]]:
    made, prices, balances = [], {}, {"USD": str(100 * shape.universe)}
    for asset in shape.universe_assets() + shape.junk_assets():
        made.append(
            Product(f"{asset}-USD", asset, "USD", Decimal("0.000001"), Decimal(1), Decimal(1), Decimal(1))
        )
        prices[f"{asset}-USD"] = "0.0145"
    # The universe sits on its targets (no rebalancing noise); junk is ~$20, under the $50 threshold.
    for asset in shape.universe_assets():
        balances[asset] = "6900"
    return made, prices, balances, shape.universe_assets()


def junk_groups(shape: Shape, cycles: int) -> list[list[str]]:
    """The junk assets split over ``cycles`` groups, one deposited before each cycle."""
    junk = shape.junk_assets()
    return [junk[k::cycles] for k in range(max(1, cycles))]


def deposit(server: ServerHandle, assets: list[str]) -> None:
    with server.session() as exchange:
        for asset in assets:
            exchange._credit(asset, JUNK_BALANCE)  # the simulator has no deposit API: a bench-only credit


async def stagger_junk(server: ServerHandle, groups: list[list[str]], start: float, cycle_sec: float) -> None:
    """Group k lands 1 s before cycle k starts (group 0 before the first)."""
    for k, group in enumerate(groups):
        await asyncio.sleep(max(0.0, start + k * cycle_sec - 1.0 - time.time()))
        deposit(server, group)


async def sample_cpu(samples: list[tuple[float, float]]) -> None:
    """(wall time, this thread's CPU seconds) every ``CPU_SAMPLE_SEC``: the event loop's thread."""
    while True:
        samples.append((time.time(), time.thread_time()))
        await asyncio.sleep(CPU_SAMPLE_SEC)


def cpu_in(samples: list[tuple[float, float]], start: float, end: float) -> float:
    walls, cpus = np.array([s[0] for s in samples]), np.array([s[1] for s in samples])
    return float(np.interp(end, walls, cpus) - np.interp(start, walls, cpus))


@dataclass
class ServerCount:
    """Every private request the server was asked (wall time, route), whatever its answer."""

    seen: list[tuple[float, str]] = field(default_factory=list)

    def install(self, server: ServerHandle) -> None:
        backend = server.backend
        serve = backend._serve  # bench-only instrumentation: the server has no request log

        async def counted(request: Any, access: Any, handler: Any) -> Any:
            if getattr(access, "value", "") == "private":
                route = request.scope.get("route")
                path = str(getattr(route, "path", request.url.path)).removeprefix("/api/v3/brokerage")
                self.seen.append((time.time(), f"{request.method} {path}"))
            return await serve(request, access, handler)

        backend._serve = counted  # type: ignore[method-assign]

    def busiest_window(self, start: float, end: float) -> int:
        """The most requests in any ``WINDOW_SEC`` window starting within [start, end]."""
        times = sorted(t for t, _ in self.seen if start <= t <= end)
        best = 0
        for i, t in enumerate(times):
            best = max(best, bisect.bisect_right(times, t + WINDOW_SEC) - i)
        return best

    def by_route(self, start: float, end: float) -> Counter[str]:
        return Counter(route for t, route in self.seen if start <= t <= end)


@asynccontextmanager
async def venue(
    server: ServerHandle, clock: SystemClock, *, stream: bool, watch: list[str]
) -> AsyncIterator[ExchangePort]:
    credentials = load_credentials(server.credentials_path)
    async with CcxtExchange(clock=clock, credentials=credentials, api_url=server.url) as rest:
        if not stream:
            yield rest
            return
        streaming = build_streaming_exchange(rest, server.ws_url, server.credentials_path, clock, watch)
        try:
            yield streaming
        finally:
            close: Callable[[], Awaitable[None]] = streaming.close  # type: ignore[attr-defined]
            await close()


async def bench(
    server: ServerHandle,
    shape: Shape,
    overrides: list[str],
    *,
    cycles: int,
    cycle_sec: float,
    db: str,
    stream: bool,
) -> tuple[list[CycleRecord], list[tuple[float, float]], tuple[float, float]]:
    weight = f"{Decimal('0.6') / len(overrides):.6f}"  # 0.02 each at the default 30
    weights = ", ".join(f"{a}: {weight}" for a in overrides)
    forced = ", ".join(f"{a}: T1" for a in overrides)
    sets = [f"portfolio_management.rebalance.target_weights={{{weights}}}"]
    sets.append(f"portfolio_management.tiers.overrides={{{forced}}}")
    policy = load_policy(None, sets)
    clock = SystemClock()
    samples: list[tuple[float, float]] = []
    watch = [f"{a}-USD" for a in shape.universe_assets() + shape.junk_assets()]
    async with venue(server, clock, stream=stream, watch=watch) as exchange:
        runner = build_runner(exchange, clock, policy, open_store(db))
        groups = junk_groups(shape, cycles)
        deposit(server, groups[0])
        started = time.time()
        helpers = [
            asyncio.ensure_future(sample_cpu(samples)),
            asyncio.ensure_future(stagger_junk(server, groups[1:], started + cycle_sec, cycle_sec)),
        ]
        try:
            summary = await runner.run(cycles, cycle_sec)
        finally:
            samples.append((time.time(), time.thread_time()))
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        ended = time.time()
    return summary.cycles, samples, (started, ended)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=50, help="universe + junk products")
    parser.add_argument("--purges", type=int, default=20, help="junk holdings to purge, staggered")
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--cycle-sec", type=float, default=60.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--stream", action="store_true", help="the streaming adapter on the server's feed")
    args = parser.parse_args()
    if not 0 < args.purges < args.products:
        parser.error("--purges must be at least 1 and fewer than --products")
    shape = Shape(universe=args.products - args.purges, junk=args.purges)
    made, prices, balances, overrides = products(shape)
    count = ServerCount()
    with tempfile.TemporaryDirectory() as tmp, running_server(
        market="dead", seed=1, balances=balances, products=made, prices=prices,
        faults=FaultPlan(latency_sec=args.latency),
    ) as server:  # fmt: skip
        count.install(server)
        cycles, samples, (started, ended) = asyncio.run(
            bench(
                server,
                shape,
                overrides,
                cycles=args.cycles,
                cycle_sec=args.cycle_sec,
                db=f"sqlite:///{tmp}/b.db",
                stream=args.stream,
            )
        )
        orders = server.audit()["orders"]
    purges = sum(1 for o in orders if str(o["client_order_id"]).startswith("purge_"))
    latency_ms = args.latency * 1000
    groups = junk_groups(shape, args.cycles)
    mode = "streaming (level2 + user over WebSocket, REST fallback)" if args.stream else "polling (REST only)"
    print(
        f"{mode}: {shape.universe + shape.junk} products, {shape.junk} purges staggered"
        f" {'/'.join(str(len(g)) for g in groups)} over the cycles, {latency_ms:.0f} ms latency,"
        " Coinbase rate limits"
    )
    header = f"{'cycle':>5} {'cpu':>7} {'cpu s':>7} {'in flight':>10} {'own':>7}"
    print(f"{header} {'bot count':>11} {'requests':>9} {'rate limit':>11}")
    util, flight, own, counted, reqs, served_share = [], [], [], [], [], []
    for c in cycles:
        cpu = cpu_in(samples, c.started_at, c.started_at + c.cycle_sec)
        util.append(100 * cpu / c.cycle_sec)
        flight.append(100 * c.io_sec / c.cycle_sec)
        own.append(100 * c.utilization)
        counted.append(float(c.requests))
        served = sum(count.by_route(c.started_at, c.started_at + c.cycle_sec).values())
        reqs.append(float(served))
        served_share.append(100 * served / (PRIVATE_RATE_LIMIT * c.cycle_sec))
        row = f"{c.index + 1:>5} {util[-1]:>6.2f}% {cpu:>7.2f} {flight[-1]:>9.2f}% {own[-1]:>6.2f}%"
        print(f"{row} {c.requests:>11} {served:>9} {served_share[-1]:>10.2f}%")

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    print(
        f"utilization (target < 10 %): cpu (cycle + purge loops + client) p50 {statistics.median(util):.2f}%"
        f"  p95 {p95(util):.2f}%; a request in flight p50 {statistics.median(flight):.2f}%"
        f"  p95 {p95(flight):.2f}%; the cycle's own work p50 {statistics.median(own):.2f}%"
        f"  p95 {p95(own):.2f}%"
    )
    print(
        f"the bot's count of requests per cycle p50 {statistics.median(counted):.0f}  p95 {p95(counted):.0f};"
        f" requests per cycle p50 {statistics.median(reqs):.0f}  p95 {p95(reqs):.0f}, share of the"
        f" private rate limit ({PRIVATE_RATE_LIMIT}/s) p50 {statistics.median(served_share):.2f}%"
        f"  p95 {p95(served_share):.2f}%"
    )
    busiest = count.busiest_window(started, ended)
    limit = PRIVATE_RATE_LIMIT * WINDOW_SEC
    print(
        f"private requests the server counted: {len(count.seen)} in {ended - started:.0f} s;"
        f" busiest {WINDOW_SEC:.0f} s window {busiest} = {100 * busiest / limit:.1f}% of the private limit"
        f" ({limit:.0f}; target < 25 %)"
    )
    routes = count.by_route(started, ended)
    print("  by route: " + ", ".join(f"{route} {n}" for route, n in routes.most_common()))
    print(f"purge orders on the server: {purges}")


if __name__ == "__main__":
    main()
