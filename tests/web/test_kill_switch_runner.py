"""The kill switch against a running paper bot (virtual clock): its orders are cancelled and
confirmed at once, the next cycles start nothing, and the pause survives a restart."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.bootstrap import build_paper_exchange, build_runner
from makerfirst.clock import VirtualClock
from makerfirst.domain.records import RunStatus
from makerfirst.observability.kill_switch import PauseState, read_pause, write_pause
from makerfirst.observability.operator_log import audit_entries
from makerfirst.persistence.store import SqlStore
from makerfirst.web.control import KillSwitch
from makerfirst.web.data import DashboardData
from simkit import policy_with

HELD = {"PENGU": Decimal(1116), "ZK": Decimal(400), "USD": Decimal(100)}


def paper(clock: VirtualClock) -> SimulatedExchange:
    return build_paper_exchange(
        catalogue=load_catalogue(), clock=clock, market="dead", seed=1, balances=dict(HELD)
    )


def resting(exchange: SimulatedExchange) -> list[str]:
    return [o.client_order_id for o in exchange.all_orders() if not o.status.is_terminal]


def test_the_kill_switch_cancels_the_running_bots_orders_and_the_next_cycles_start_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    clock, store = VirtualClock(), SqlStore(url)
    exchange = paper(clock)
    runner = build_runner(exchange, clock, policy_with("purge=[PENGU, ZK]"), store)
    switch = KillSwitch(DashboardData(store, create_engine(url), clock.now), clock.now, runner.halt)

    async def scenario() -> tuple[list[str], dict[str, object], list[str], float]:
        start = clock.now()
        bot = asyncio.create_task(runner.run(cycles=3, cycle_sec=60))
        await clock.sleep_until(start + 10)  # both purges' first maker orders rest (TTL 25 s, dead book)
        before = resting(exchange)
        answer = await switch.kill("KILL", "test", "drill")
        after = resting(exchange)
        killed_at = clock.now()
        await bot
        return before, answer, after, killed_at

    before, answer, after, killed_at = asyncio.run(scenario())
    assert len(before) == 2 and after == []
    assert answer["cancelled"] == 2 and answer["open_orders_left"] == 0
    assert store.open_orders() == []
    assert len(exchange.all_orders()) == 2  # nothing sent after the switch
    assert all(o.created_at < killed_at for o in store.all_orders())
    assert [c.intents for c in store.cycles()] == [2, 0, 0]
    assert all(r.status is RunStatus.ACTIVE and not r.taker_sent for r in store.runs())  # resumable, no IOC
    [audit] = audit_entries(create_engine(url))
    assert audit.action == "kill_switch" and json.loads(audit.detail)["cancelled"] == 2


def test_a_paused_bot_restarted_sends_nothing_until_resumed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = SqlStore(url)
    write_pause(store, PauseState(True, 0.0, "test", "before the restart"))
    clock = VirtualClock()
    exchange = paper(clock)
    asyncio.run(
        build_runner(exchange, clock, policy_with("purge=[PENGU, ZK]"), store).run(cycles=2, cycle_sec=60)
    )
    assert exchange.all_orders() == [] and read_pause(store).paused

    write_pause(store, PauseState(False, clock.now(), "test", "resumed"))
    asyncio.run(
        build_runner(exchange, clock, policy_with("purge=[PENGU, ZK]"), store).run(cycles=1, cycle_sec=60)
    )
    assert {o.product_id for o in exchange.all_orders()} == {"PENGU-USD", "ZK-USD"}
