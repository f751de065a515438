"""``makerfirst run --stream``: the bot on Coinbase's WebSocket feed against a real sim-server.

Real parts: the CLI, the sim-server on 127.0.0.1 (REST and its WebSocket feed, in a thread), the
ccxt adapter, the feed client, a SQLite file; Ctrl-C is a real SIGINT to a real process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerfirst.adapters.coinbase_stream.feed import COINBASE_WS
from makerfirst.adapters.coinbase_stream.urls import feed_url_of
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.cli.main import app
from makerfirst.persistence.store import SqlStore

runner = CliRunner()
MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
FAST_PURGE = [
    "--set",
    "purge=[PENGU]",
    "--set",
    "portfolio_management.purge_execution.maker_first_ttl_sec=2",
    "--set",
    "portfolio_management.purge_execution.maker_retry_ttl_sec=2",
]


def _stream_args(server: ServerHandle, db: str, *more: str) -> list[str]:
    return [
        "run",
        "--exchange",
        "coinbase",
        "--api-url",
        server.url,
        "--credentials",
        str(server.credentials_path),
        "--stream",
        "--db",
        db,
        *FAST_PURGE,
        *more,
    ]


def _journal_agrees_with_the_venue(db: str, audit: dict[str, Any]) -> None:
    store = SqlStore(db)
    try:
        mine = {o.client_order_id: o for o in store.all_orders()}
        theirs = {o["client_order_id"]: o for o in audit["orders"]}
        assert set(mine) == set(theirs) and mine
        for cid, order in theirs.items():
            kept = mine[cid]
            assert (kept.order_id, kept.status.value if kept.status else None) == (
                order["order_id"],
                order["status"],
            ), cid
            assert kept.filled_size == Decimal(order["filled_size"]), cid
        assert {f.trade_id for f in store.all_fills()} == {f["trade_id"] for f in audit["fills"]}
        assert store.open_orders() == []
        assert [r.outcome for r in store.runs()] == ["complete"]
    finally:
        store.close()


def _count_routes(server: ServerHandle) -> Counter[str]:
    """Every request the server is asked, by route (the server keeps no request log)."""
    seen: Counter[str] = Counter()
    serve = server.backend._serve

    async def counted(request: Any, access: Any, handler: Any) -> Any:
        route = request.scope.get("route")
        seen[f"{request.method} {str(getattr(route, 'path', '')).removeprefix('/api/v3/brokerage')}"] += 1
        return await serve(request, access, handler)

    server.backend._serve = counted  # type: ignore[method-assign]
    return seen


def test_run_stream_purges_a_holding_and_the_journal_agrees_with_the_venue(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    threads_before = set(threading.enumerate())
    with running_server(market="dead", balances={"PENGU": "1116", "USD": "100"}) as server:
        routes = _count_routes(server)
        result = runner.invoke(app, _stream_args(server, db, "--cycles", "1", "--cycle-sec", "1"))
        audit = server.audit()
    assert result.exit_code == 0, result.output
    assert f"feed connected to {server.url.replace('http', 'ws')}/ws" in result.output
    # Order states came from the user channel: polling reads each maker order at least three times
    # over REST (placed, TTL up, cancel confirmed) and the IOC once: 7 reads for these 3 orders.
    assert len(audit["orders"]) == 3
    assert routes["GET /orders/historical/{order_id}"] < 2 * len(audit["orders"])
    # The cycle line counts what went over REST (never more than the server was asked over the
    # whole run) and, apart, what the stream answered.
    cycle = re.search(
        r"Cycle 1/1: .*, (\d+) requests \([\d.]+s in flight\), (\d+) answered by the stream,", result.output
    )
    assert cycle is not None, result.output
    assert 0 < int(cycle[1]) <= sum(routes.values()) and int(cycle[2]) > 0
    assert "Traceback" not in result.output and "Task was destroyed" not in result.output
    _journal_agrees_with_the_venue(db, audit)
    assert any(f["product_id"] == "PENGU-USD" for f in audit["fills"])
    assert set(threading.enumerate()) <= threads_before  # the feed left nothing running


def test_run_stream_through_feed_disconnects_completes_on_the_rest_fallback(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    cut = FeedFaults(disconnect_after=6, seed=1)
    with running_server(market="dead", balances={"PENGU": "1116", "USD": "100"}, feed_faults=cut) as server:
        result = runner.invoke(app, _stream_args(server, db, "--cycles", "1", "--cycle-sec", "1"))
        audit = server.audit()
    assert result.exit_code == 0, result.output
    assert "feed connection lost" in result.output  # it was cut, and reconnected
    assert result.output.count("feed connected to") >= 2
    _journal_agrees_with_the_venue(db, audit)


def test_ctrl_c_stops_a_streaming_bot_cleanly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    with running_server(market="dead", balances={"USD": "100"}) as server:
        args = _stream_args(server, db, "--loop", "--cycle-sec", "1")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        bot = subprocess.Popen(
            [*MAKERFIRST, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            _wait_for_line(bot, "feed connected to", timeout=60)
            bot.send_signal(signal.SIGINT)
            out, err = bot.communicate(timeout=30)
        finally:
            if bot.poll() is None:
                bot.kill()
    assert bot.returncode == 130, err
    assert "interrupted:" in err
    assert "Traceback" not in out + err and "Task was destroyed" not in out + err


def _wait_for_line(process: subprocess.Popen[str], text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(
                f"the bot ended before {text!r}: {process.stderr.read() if process.stderr else ''}"
            )
    raise AssertionError(f"no {text!r} within {timeout}s")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--paper", "--stream"], "--stream needs --exchange coinbase: the paper venue is in-process"),
        (
            ["--exchange", "kraken", "--api-url", "http://127.0.0.1:9", "--stream"],
            "--stream: kraken has no WebSocket adapter",
        ),
        (["--exchange", "coinbase", "--api-url", "http://127.0.0.1:9", "--ws-url", "ws://x"], "add --stream"),
    ],
)
def test_stream_where_there_is_no_feed_is_one_clear_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["run", "--cycles", "1", "--db", f"sqlite:///{tmp_path}/x.db", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_live_guard_judges_the_feed_url_too(tmp_path: Path) -> None:
    with running_server(market="dead", balances={"USD": "1"}) as server:
        args = _stream_args(server, f"sqlite:///{tmp_path}/x.db", "--cycles", "1")
        result = runner.invoke(app, [*args, "--ws-url", "wss://advanced-trade-ws.coinbase.com"])
        assert server.audit()["orders"] == []
    assert result.exit_code == 2
    assert "advanced-trade-ws.coinbase.com, which is not this machine" in result.stderr
    assert "--live" in result.stderr


def test_a_bad_ws_url_is_one_line_naming_it(tmp_path: Path) -> None:
    args = ["run", "--exchange", "coinbase", "--api-url", "http://127.0.0.1:9", "--stream", "--cycles", "1"]
    result = runner.invoke(
        app, [*args, "--ws-url", "http://127.0.0.1:9/ws", "--db", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2
    assert "--ws-url 'http://127.0.0.1:9/ws' needs ws:// or wss://" in result.stderr


@pytest.mark.parametrize(
    ("api_url", "ws_url"),
    [
        (None, COINBASE_WS),
        ("https://api.coinbase.com", COINBASE_WS),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/ws"),
        ("https://127.0.0.1:8765/", "wss://127.0.0.1:8765/ws"),
        ("http://[::1]:8765", "ws://[::1]:8765/ws"),
    ],
)
def test_the_feed_url_follows_the_api_url(api_url: str | None, ws_url: str) -> None:
    assert feed_url_of(api_url) == ws_url
