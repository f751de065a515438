"""SIGKILL at any step of a purge, then a restart: no second sale, no order left open.

The bot runs as a real process (`makerfirst run --exchange coinbase`) against the Coinbase-compatible
sim server on 127.0.0.1 (ccxt, real JWTs, real HTTP), with its state in a real SQLite file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.persistence.store import SqlStore

BALANCES = {"PENGU": "1116", "ZK": "400", "USD": "100"}
MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]


def bot(server: ServerHandle, db: str, cycles: int) -> list[str]:
    ttl = "portfolio_management.purge_execution"
    return [
        *MAKERFIRST, "run", "--exchange", "coinbase", "--api-url", server.url,
        "--credentials", str(server.credentials_path), "--cycles", str(cycles), "--cycle-sec", "4",
        "--set", f"{ttl}.maker_first_ttl_sec=1", "--set", f"{ttl}.maker_retry_ttl_sec=1",
        "--set", "execution.order_poll_interval_sec=0.25", "--set", "purge=[PENGU, ZK]", "--db", db,
    ]  # fmt: skip


def orders(server: ServerHandle) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.audit()["orders"]
    return found


def kinds(order: dict[str, Any]) -> str:
    return next(iter(order["order_configuration"]))


def first_maker_resting(server: ServerHandle) -> bool:
    return any(o["status"] == "OPEN" for o in orders(server))


def second_maker_sent(server: ServerHandle) -> bool:
    return sum(kinds(o) == "limit_limit_gtd" for o in orders(server)) >= 3


def first_ioc_sent(server: ServerHandle) -> bool:
    return any(kinds(o) == "sor_limit_ioc" for o in orders(server))


@pytest.mark.parametrize(
    "moment", [first_maker_resting, second_maker_sent, first_ioc_sent], ids=lambda f: f.__name__
)
def test_sigkill_mid_purge_then_restart_sells_once_and_leaves_nothing_open(
    tmp_path: Path, moment: Callable[[ServerHandle], bool]
) -> None:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    with running_server(market="dead", seed=1, balances=BALANCES) as server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        first = subprocess.Popen(
            bot(server, db, cycles=3), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        give_up = time.monotonic() + 30
        while not moment(server):
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else "bot exited"
            assert time.monotonic() < give_up, "the purge never reached the moment to kill it"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        restart = subprocess.run(
            bot(server, db, cycles=1), env=env, capture_output=True, timeout=60, check=False
        )
        assert restart.returncode == 0, restart.stderr.decode()

        final = orders(server)
        assert all(o["status"] in ("FILLED", "CANCELLED", "EXPIRED", "FAILED") for o in final), final
        iocs = Counter(o["product_id"] for o in final if kinds(o) == "sor_limit_ioc")
        assert set(iocs.values()) <= {1}, f"a second IOC was placed: {iocs}"
        with server.session() as exchange:
            sold = sum(f.size for f in exchange.all_fills())
            held = exchange.held()
        assert held == {}
        assert sold == 1116 + 400  # each holding sold exactly once

        store = SqlStore(db)
        journal = {o.client_order_id: o for o in store.all_orders()}
        assert {o["client_order_id"] for o in final} <= set(journal)  # every order is in the database
        assert store.open_orders() == []


def test_sigkill_before_the_fills_are_journaled_then_503s_on_fills_at_restart_lose_nothing(
    tmp_path: Path,
) -> None:
    """The bot is killed while it reads an IOC's fills back (slowed by latency so the moment is
    certain); the restart's reconcile then meets three 503s on ``/orders/historical/fills``. The
    fills land a cycle later: every venue fill in the journal once, none invented."""
    db = f"sqlite:///{tmp_path / 'state.db'}"
    with running_server(market="dead", seed=1, balances=BALANCES) as server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        first = subprocess.Popen(
            bot(server, db, cycles=3), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        give_up = time.monotonic() + 60
        slowed = False
        while not first_ioc_sent(server):
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else "bot exited"
            assert time.monotonic() < give_up, "the purge never sent its IOC"
            if not slowed and second_maker_sent(server):
                server.set_faults(FaultPlan(latency_sec=0.4))  # the IOC's confirm and fills read crawl
                slowed = True
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        with server.session() as exchange:
            venue_fills = {(f.order_id, f.trade_id, f.size) for f in exchange.all_fills()}
        before = SqlStore(db)
        assert {(f.order_id, f.trade_id, f.size) for f in before.all_fills()} < venue_fills  # fills unread
        before.close()

        server.set_faults(FaultPlan.parse("error5xx@fills=3"))  # the adapter's retries, all used up
        restart = subprocess.run(  # a cycle lost to the 503s, then room to resume both purges
            bot(server, db, cycles=3), env=env, capture_output=True, timeout=90, check=False
        )
        assert restart.returncode == 0, restart.stderr.decode()
        assert b"Cycle 1 skipped" in restart.stdout + restart.stderr  # the 503s did hit the reconcile

        final = orders(server)
        assert all(o["status"] in ("FILLED", "CANCELLED", "EXPIRED", "FAILED") for o in final), final
        with server.session() as exchange:
            venue_fills = {(f.order_id, f.trade_id, f.size) for f in exchange.all_fills()}
            sold = sum(f.size for f in exchange.all_fills())
        assert sold == 1116 + 400, restart.stdout.decode()
        store = SqlStore(db)
        journal = [(f.order_id, f.trade_id, f.size) for f in store.all_fills()]
        assert sorted(journal) == sorted(venue_fills)  # nothing lost, nothing doubled
        assert store.open_orders() == [] and store.unsettled_orders() == []
