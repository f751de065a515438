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

from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.persistence.store import SqlStore

BALANCES = {"PENGU": "1116", "ZK": "400", "USD": "100"}
MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.main import app; app()"]


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
