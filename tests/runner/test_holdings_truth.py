"""What the bot measures as held comes from the venue: never more than the venue holds.

The runner runs on the paper exchange while its sell and buy loops cross cycle boundaries at
every moment hypothesis picks (cycle length, poll interval, TTLs, seed). A witness beside the
venue notes, after every request, what the venue really holds (available + on hold) per
currency; every holding a cycle records must be at most the most the venue held during that
cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.bootstrap import DEMO_BALANCES, build_paper_exchange, build_runner
from makerfirst.clock import VirtualClock
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.domain.records import CycleRecord, HoldingSnapshot, RunStatus
from makerfirst.persistence.store import SqlStore
from makerfirst.policy import Policy, default_policy_path, load_policy

START = 1_000.0
LIQUID = ("BTC-USD", "ETH-USD")  # the demo's rebalanced products


def venue_totals(exchange: SimulatedExchange) -> dict[str, Decimal]:
    """What the simulated venue holds per currency right now: available plus on hold."""
    return {currency: balance.total for currency, balance in exchange.balance_sheet_now().items()}


class Witness:
    """The paper exchange, with a note of the venue's true holdings after every request."""

    def __init__(self, inner: SimulatedExchange, clock: VirtualClock) -> None:
        self._inner, self._clock = inner, clock
        self.seen: list[tuple[float, dict[str, Decimal]]] = [(clock.now(), venue_totals(inner))]
        self.buys_beside_a_resting_sell: list[str] = []
        self.selling: Callable[[], set[str]] = set  # products with a sell loop under way

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def noted(*args: Any, **kwargs: Any) -> Any:
            if name == "place_order" and args[0].side is Side.BUY:
                self._note_resting_sells(args[0].product_id)
            result = await attribute(*args, **kwargs)
            self.seen.append((self._clock.now(), venue_totals(self._inner)))
            return result

        return noted

    def _note_resting_sells(self, buying: str) -> None:
        resting = {
            o.product_id
            for o in self._inner.all_orders()
            if o.side is Side.SELL and not o.status.is_terminal and o.product_id in LIQUID
        }
        selling = resting | self.selling()
        if selling:
            self.buys_beside_a_resting_sell.append(f"buy {buying} while selling {sorted(selling)}")

    def most_held(self, currency: str, start: float, end: float) -> Decimal:
        """The most the venue held of ``currency`` at any request answered in [start, end]."""
        return max(
            (totals.get(currency, ZERO) for when, totals in self.seen if start <= when <= end), default=ZERO
        )


class CheckedStore(SqlStore):
    """A real SQLite store that checks every cycle's holdings against the witness."""

    def __init__(self, url: str, check: Callable[[CycleRecord, Sequence[HoldingSnapshot]], None]) -> None:
        super().__init__(url)
        self._check = check

    def record_cycle(self, cycle: CycleRecord, holdings: Sequence[HoldingSnapshot] = ()) -> None:
        self._check(cycle, holdings)
        super().record_cycle(cycle, holdings)


def demo_policy(*overrides: str) -> Policy:
    return load_policy(default_policy_path("demo-policy.yaml"), list(overrides))


def run_witnessed(
    tmp_path: Path,
    policy: Policy,
    *,
    seed: int,
    cycle_sec: float,
    cycles: int,
    crash_at: float | None = None,
    balances: dict[str, Decimal] | None = None,
) -> list[str]:
    """Run ``cycles`` cycles; with ``crash_at``, the process dies that many seconds in and a new
    runner starts on the same venue and database for the cycles left."""
    clock = VirtualClock(start=START)
    venue = build_paper_exchange(
        catalogue=load_catalogue(),
        clock=clock,
        market=None,
        seed=seed,
        balances=balances or dict(DEMO_BALANCES),
    )
    witness = Witness(venue, clock)
    excess: list[str] = []

    def check(cycle: CycleRecord, holdings: Sequence[HoldingSnapshot]) -> None:
        # The cycle measured inside its own work: from its start for ``busy_sec``.
        start, end = cycle.started_at, cycle.started_at + cycle.busy_sec
        for h in holdings:
            most = witness.most_held(h.asset, start, end)
            if h.size > most:
                excess.append(f"t={start - START:.2f}: {h.asset} measured {h.size}, the venue held {most}")

    db = tmp_path / f"truth-{seed}-{cycle_sec}.db"
    db.unlink(missing_ok=True)
    store = CheckedStore(f"sqlite:///{db}", check)

    async def crash_then_restart() -> None:
        first = build_runner(witness, clock, policy, store)  # type: ignore[arg-type]
        if crash_at is None:
            await first.run(cycles=cycles, cycle_sec=cycle_sec)
            return
        running = asyncio.create_task(first.run(cycles=cycles, cycle_sec=cycle_sec))
        await clock.sleep_until(START + crash_at)
        running.cancel()  # nothing after this point of the first process happens
        with contextlib.suppress(asyncio.CancelledError):
            await running
        left = max(1, cycles - int(crash_at // cycle_sec))
        await build_runner(witness, clock, policy, store).run(cycles=left, cycle_sec=cycle_sec)  # type: ignore[arg-type]

    asyncio.run(crash_then_restart())
    store.close()
    return excess


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    cycle_sec=st.sampled_from([2.0, 3.0, 4.5, 6.0, 7.5, 11.0, 13.0, 17.0]),
    poll_sec=st.sampled_from(["0.5", "1", "2.5", "5"]),
    ttl_sec=st.sampled_from([8, 12, 15]),
    crash_at=st.none() | st.floats(min_value=0.5, max_value=60.0),
    eth=st.sampled_from(["0.5", "2"]),  # 2 ETH: a sell of several slices, over several cycles
)
def test_measured_holdings_never_exceed_what_the_venue_holds(
    tmp_path: Path, seed: int, cycle_sec: float, poll_sec: str, ttl_sec: int, crash_at: float | None, eth: str
) -> None:
    policy = demo_policy(
        f"execution.order_poll_interval_sec={poll_sec}",
        f"execution.maker_first_min_ttl_sec={ttl_sec}",
        f"execution.maker_max_ttl_sec={max(ttl_sec, 15)}",
    )
    balances = {**DEMO_BALANCES, "ETH": Decimal(eth)}
    excess = run_witnessed(
        tmp_path, policy, seed=seed, cycle_sec=cycle_sec, cycles=8, crash_at=crash_at, balances=balances
    )
    assert excess == []


def test_a_fill_the_loop_has_not_polled_yet_is_not_counted_twice(tmp_path: Path) -> None:
    """The ETH sell fills between two polls of its loop and a cycle starts in that gap: the
    venue already paid the USD, so the ETH it sold is gone."""
    policy = demo_policy("execution.order_poll_interval_sec=5")
    assert run_witnessed(tmp_path, policy, seed=1, cycle_sec=2.0, cycles=8) == []


@pytest.mark.parametrize("cycle_sec", [3.0, 7.5])
def test_no_buy_is_placed_while_a_rebalancing_sell_rests(tmp_path: Path, cycle_sec: float) -> None:
    """Buys are paid from what the sells bring in: none goes out while a sell still rests. ETH
    is far over its target: its sell takes several slices (at most $1000 each), over several
    cycles."""
    clock = VirtualClock(start=START)
    balances = {"BTC": Decimal("0.005"), "ETH": Decimal(2), "USD": Decimal(1000)}
    venue = build_paper_exchange(
        catalogue=load_catalogue(), clock=clock, market=None, seed=1, balances=balances
    )
    witness = Witness(venue, clock)
    store = SqlStore(f"sqlite:///{tmp_path / 'wait.db'}")
    witness.selling = lambda: {
        r.product_id
        for r in store.runs()
        if r.status is RunStatus.ACTIVE and r.side is Side.SELL and r.product_id in LIQUID
    }
    runner = build_runner(witness, clock, demo_policy(), store)  # type: ignore[arg-type]
    asyncio.run(runner.run(cycles=int(150 / cycle_sec), cycle_sec=cycle_sec))  # 2.5 minutes
    buys = [o for o in venue.all_orders() if o.side is Side.BUY]
    assert buys, "the demo rebalances BTC up: a buy was expected"
    assert witness.buys_beside_a_resting_sell == []
