"""Ctrl-C and a restart of `makerfirst run --paper` (real time): the same simulated venue goes on.

The bot runs as a real process on the system clock, its state in a real SQLite file; the test
sends SIGINT at a chosen moment and starts it again on the same file. The restart must find the
venue as the first run left it (its balances, the order that was resting), never the demo
balances again: no holding is sold twice, and the journal's fills account for every balance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from makerfirst.bootstrap import DEMO_BALANCES, PAPER_WORLD
from makerfirst.domain.orders import Side
from makerfirst.domain.records import OrderState
from makerfirst.persistence.store import SqlStore

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
SHORT = [  # the demo policy on short TTLs, so a real-time run is over in seconds
    "execution.maker_max_ttl_sec=2",
    "execution.maker_first_min_ttl_sec=2",
    "execution.maker_retry_min_ttl_sec=1",
    "execution.order_poll_interval_sec=0.25",
    "execution.gtd_grace_sec=1",
    "portfolio_management.purge_execution.maker_first_ttl_sec=2",
    "portfolio_management.purge_execution.maker_retry_ttl_sec=2",
]


def bot(db: str, cycles: int) -> list[str]:
    args = [*MAKERFIRST, "run", "--paper", "--cycles", str(cycles), "--cycle-sec", "2", "--db", db]
    for override in SHORT:
        args += ["--set", override]
    return args


def a_sell_rests(store: SqlStore) -> bool:
    """An order the venue accepted and the journal has no final report for yet."""
    return any(o.state is OrderState.ACCEPTED and o.status is None for o in store.all_orders())


def a_fill_is_recorded(store: SqlStore) -> bool:
    return bool(store.all_fills())


@pytest.mark.parametrize(
    ("stop", "moment"),
    [
        (signal.SIGINT, a_sell_rests),
        (signal.SIGINT, a_fill_is_recorded),
        (signal.SIGKILL, a_fill_is_recorded),  # no exit code path at all: the world saved at each change
    ],
    ids=["sigint-resting", "sigint-filled", "sigkill-filled"],
)
def test_ctrl_c_then_restart_continues_the_paper_venue_and_sells_nothing_twice(
    tmp_path: Path, stop: signal.Signals, moment: Callable[[SqlStore], bool]
) -> None:
    db = f"sqlite:///{tmp_path / 'paper.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(bot(db, cycles=30), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    give_up = time.monotonic() + 60
    store = SqlStore(db)  # opened while the bot creates it: both migrate under one lock
    while not moment(store):
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else "bot exited"
        assert time.monotonic() < give_up, "the run never reached the moment to interrupt it"
        time.sleep(0.05)
    first.send_signal(stop)
    _, err = first.communicate(timeout=30)
    if stop is signal.SIGINT:
        assert first.returncode == 130, err.decode()
        assert "interrupted" in err.decode()

    restart = subprocess.run(bot(db, cycles=4), env=env, capture_output=True, timeout=120, check=False)
    assert restart.returncode == 0, restart.stderr.decode()
    assert "continuing the simulated venue" in restart.stderr.decode()

    sold: dict[str, Decimal] = {}
    for fill in store.all_fills():
        if fill.side is Side.SELL:
            base = fill.product_id.split("-")[0]
            sold[base] = sold.get(base, Decimal(0)) + fill.size
    for asset, size in sold.items():
        assert size <= DEMO_BALANCES[asset], f"{asset}: sold {size} of {DEMO_BALANCES[asset]} held"
    assert sold["ETH"] < Decimal("0.3")  # its excess over the 30 % target, once (0.4471 if twice)
    assert store.open_orders() == []

    # The venue's balances are the demo's moved by exactly the fills in the journal.
    world = json.loads(store.load_document(PAPER_WORLD) or "{}")
    held = {
        c: Decimal(world["available"].get(c, "0")) + Decimal(world["held"].get(c, "0")) for c in DEMO_BALANCES
    }
    expected = dict(DEMO_BALANCES)
    for fill in store.all_fills():
        base, quote = fill.product_id.split("-")
        sign = 1 if fill.side is Side.BUY else -1
        expected[base] += sign * fill.size
        expected[quote] -= sign * fill.price * fill.size + fill.fee
    assert held == expected
