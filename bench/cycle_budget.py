"""Cycle budget: the main loop over 50 products with 20 purges in flight, against the sim-server.

The bot (``Runner`` with the ccxt adapter, exactly as ``makerfirst run --exchange coinbase`` builds
it) talks HTTP to a Coinbase-compatible sim-server on 127.0.0.1 that adds 50 ms to every request
and enforces Coinbase's rate limits (30 private / 10 public requests per second; the adapter paces
itself inside them). 50 products: 30 in the universe (target weights, forced T1) and 20 junk
holdings of ~$20 on dead books, which the portfolio step purges, each purge loop resting 25 s then
20 s maker orders before its taker fallback. The junk arrives staggered: its holdings are split
over the cycles and each share is deposited just before its cycle starts, so every cycle has
purges to start and run (all 20 at once in the first cycle would leave the later ones idle and
their p50 meaningless). Real time: 60 s cycles.

    .venv/bin/python bench/cycle_budget.py [--cycles 4] [--cycle-sec 60]

Prints, per cycle and as p50/p95:

* utilization, three ways, each over the cycle's length: ``cpu``, the bot's CPU time in the
  cycle's window (its event-loop thread: the cycle, the purge loops, the ccxt client; the
  sim-server runs in its own thread and is not counted); ``in flight``, the wall time with at
  least one request of the bot in flight, the purge loops' included; ``own``, the wall time of the
  cycle's own work alone (refresh, reconcile, decide, dispatch: what earlier versions reported);
* requests: every request in the cycle's window, the purge loops' included, and the share of
  Coinbase's private rate limit (30 requests/s) they used over the cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from decimal import Decimal

import numpy as np

from makerfirst.adapters.ccxt_exchange import CcxtExchange, load_credentials
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.bootstrap import build_runner, open_store
from makerfirst.clock import SystemClock
from makerfirst.domain.product import Product
from makerfirst.domain.records import CycleRecord
from makerfirst.policy import load_policy

UNIVERSE, JUNK = 30, 20
JUNK_BALANCE = Decimal(1380)  # ~$20 at the 0.0145 mid: under the policy's $50 purge threshold
PRIVATE_RATE_LIMIT = 30  # Coinbase Advanced: private requests per second
CPU_SAMPLE_SEC = 0.05


def products() -> tuple[list[Product], dict[str, str], dict[str, str], list[str]]:
    made, prices, balances, overrides = [], {}, {"USD": "3000"}, []
    for i in range(UNIVERSE + JUNK):
        asset = f"A{i:02d}" if i < UNIVERSE else f"J{i:02d}"
        made.append(
            Product(f"{asset}-USD", asset, "USD", Decimal("0.000001"), Decimal(1), Decimal(1), Decimal(1))
        )
        prices[f"{asset}-USD"] = "0.0145"
        # The universe sits on its targets (no rebalancing noise); junk is ~$20, under the $50 threshold.
        if i < UNIVERSE:
            balances[asset] = "6900"
            overrides.append(asset)
    return made, prices, balances, overrides


def junk_groups(cycles: int) -> list[list[str]]:
    """The junk assets split over ``cycles`` groups, one deposited before each cycle."""
    junk = [f"J{i:02d}" for i in range(UNIVERSE, UNIVERSE + JUNK)]
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


async def bench(
    server: ServerHandle, overrides: list[str], *, cycles: int, cycle_sec: float, db: str
) -> tuple[list[CycleRecord], list[tuple[float, float]]]:
    weights = ", ".join(f"{a}: 0.02" for a in overrides)
    forced = ", ".join(f"{a}: T1" for a in overrides)
    sets = [f"portfolio_management.rebalance.target_weights={{{weights}}}"]
    sets.append(f"portfolio_management.tiers.overrides={{{forced}}}")
    policy = load_policy(None, sets)
    clock = SystemClock()
    credentials = load_credentials(server.credentials_path)
    samples: list[tuple[float, float]] = []
    async with CcxtExchange(clock=clock, credentials=credentials, api_url=server.url) as exchange:
        runner = build_runner(exchange, clock, policy, open_store(db))
        groups = junk_groups(cycles)
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
    return summary.cycles, samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--cycle-sec", type=float, default=60.0)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    made, prices, balances, overrides = products()
    with tempfile.TemporaryDirectory() as tmp, running_server(
        market="dead", seed=1, balances=balances, products=made, prices=prices,
        faults=FaultPlan(latency_sec=args.latency),
    ) as server:  # fmt: skip
        cycles, samples = asyncio.run(
            bench(
                server,
                overrides,
                cycles=args.cycles,
                cycle_sec=args.cycle_sec,
                db=f"sqlite:///{tmp}/b.db",
            )
        )
        purges = sum(1 for o in server.audit()["orders"] if str(o["client_order_id"]).startswith("purge_"))
    latency_ms = args.latency * 1000
    groups = junk_groups(args.cycles)
    print(
        f"{UNIVERSE + JUNK} products, {JUNK} purges staggered {'/'.join(str(len(g)) for g in groups)}"
        f" over the cycles, {latency_ms:.0f} ms latency, Coinbase rate limits"
    )
    header = f"{'cycle':>5} {'cpu':>7} {'cpu s':>7} {'in flight':>10} {'own':>7}"
    print(f"{header} {'requests':>9} {'rate limit':>11}")
    util, flight, own, share, reqs = [], [], [], [], []
    for c in cycles:
        cpu = cpu_in(samples, c.started_at, c.started_at + c.cycle_sec)
        util.append(100 * cpu / c.cycle_sec)
        flight.append(100 * c.io_sec / c.cycle_sec)
        own.append(100 * c.utilization)
        share.append(100 * c.requests / (PRIVATE_RATE_LIMIT * c.cycle_sec))
        reqs.append(float(c.requests))
        row = f"{c.index + 1:>5} {util[-1]:>6.2f}% {cpu:>7.2f} {flight[-1]:>9.2f}% {own[-1]:>6.2f}%"
        print(f"{row} {c.requests:>9} {share[-1]:>10.2f}%")

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
        f"requests per cycle p50 {statistics.median(reqs):.0f}  p95 {p95(reqs):.0f};"
        f" share of the private rate limit ({PRIVATE_RATE_LIMIT}/s) p50 {statistics.median(share):.2f}%"
        f"  p95 {p95(share):.2f}%"
    )
    print(f"purge orders on the server: {purges}")
    print(
        "what bounds it: the cycle reads every measured product's book (and, every 5 min, the product"
        " list for 24 h volumes) through Coinbase's 30 private requests/s, which the purge loops share;"
        " at 50 ms a request and 8 at a time, that is ~1-2 s of a 60 s cycle"
    )


if __name__ == "__main__":
    main()
