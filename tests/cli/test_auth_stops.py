"""A key the venue refuses stops the bot with one error line and a non-zero exit, in ``--loop`` too.

A real process against a real sim-server on 127.0.0.1 that does not know the key: every private
request is answered 401. Before, ``--loop`` logged "Cycle N skipped" forever.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.adapters.sim_server.auth import generate_credentials
from makerfirst.adapters.sim_server.testing import running_server
from makerfirst.bootstrap import build_paper_exchange, build_runner, open_store
from makerfirst.cli.main import app
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import AuthenticationError
from makerfirst.domain.orders import PlaceOrder
from simkit import policy_with

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
STOP_WITHIN_SEC = 60  # ccxt's import and one refused cycle take a few seconds; forever is the bug


@pytest.mark.parametrize("mode", [["--loop"], ["--cycles", "50"]])
def test_a_refused_key_stops_the_bot_with_one_error_line(tmp_path: Path, mode: list[str]) -> None:
    stranger = generate_credentials().write(tmp_path / "stranger")
    with running_server(balances={"PENGU": "1116", "USD": "100"}) as server:
        args = ["run", "--exchange", "coinbase", "--api-url", server.url, "--credentials", str(stranger)]
        args += [*mode, "--cycle-sec", "1", "--set", "purge=[PENGU]", "--db", f"sqlite:///{tmp_path}/s.db"]
        try:
            done = subprocess.run(
                [*MAKERFIRST, *args], capture_output=True, text=True, timeout=STOP_WITHIN_SEC, check=False
            )
        except subprocess.TimeoutExpired as expired:
            pytest.fail(f"the bot kept running on a refused key: {expired.stdout!r}")
        assert server.audit()["orders"] == []
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "authentication failed, the bot stopped" in errors[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Cycle 2" not in done.stdout  # stopped in the first cycle, not after skipping more


class _Forbidden(BaseHTTPRequestHandler):
    """A venue (or the firewall in front of it) that answers every request with an HTML 403."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = b"<html><body><h1>403 Forbidden</h1></body></html>"
        self.send_response(403)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815 - the stdlib names the handler methods

    def log_message(self, *_: object) -> None:
        pass


def test_a_403_is_an_authentication_failure_not_a_venue_to_retry(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forbidden)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = generate_credentials().write(tmp_path / "key")
    try:
        result = CliRunner().invoke(
            app,
            ["run", "--exchange", "coinbase", "--api-url", f"http://127.0.0.1:{server.server_address[1]}",
             "--credentials", str(key), "--cycles", "3", "--cycle-sec", "1", "--db", f"sqlite:///{tmp_path}/f.db"],
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2, result.output
    assert "error: authentication failed, the bot stopped" in result.stderr
    # load_markets' first requests, each once: nothing retried, no second cycle.
    assert _Forbidden.requests and len(set(_Forbidden.requests)) == len(_Forbidden.requests)


class _ReadOnlyKey:
    """The paper venue behind a key that may read but not trade: every order is refused with 403."""

    def __init__(self, venue: SimulatedExchange) -> None:
        self._venue = venue
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)

    async def place_order(self, command: PlaceOrder) -> Any:
        self.refused += 1
        raise AuthenticationError(f"403 PERMISSION_DENIED: the key may not trade ({command.product_id})")


def test_a_key_that_may_not_trade_stops_the_bot_from_inside_a_sell_loop(tmp_path: Path) -> None:
    clock = VirtualClock()
    venue = _ReadOnlyKey(
        build_paper_exchange(
            catalogue=load_catalogue(), clock=clock, market="dead", seed=1, balances={"PENGU": Decimal(1116)}
        )
    )
    store = open_store(f"sqlite:///{tmp_path}/r.db")
    runner = build_runner(venue, clock, policy_with("purge=[PENGU]"), store)  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError, match="may not trade"):
        asyncio.run(runner.run(cycles=50, cycle_sec=60))
    assert venue.refused == 1  # the first refused order stopped everything: no retry next cycle
    assert len(store.cycles()) <= 1
