"""A key the venue refuses stops the bot with one error line and a non-zero exit, in ``--loop`` too.

A real process against a real sim-server on 127.0.0.1 that does not know the key: every private
request is answered 401. Before, ``--loop`` logged "Cycle N skipped" forever.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from makerfirst.adapters.sim_server.auth import generate_credentials
from makerfirst.adapters.sim_server.testing import running_server

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.main import app; app()"]
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
