"""``./app_run_live.sh``: ``--live`` implied and said first, every other flag passed to ``makerfirst run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from makerfirst.adapters.sim_server.testing import running_server

SCRIPT = Path(__file__).resolve().parents[2] / "app_run_live.sh"


def test_the_script_runs_makerfirst_run_live_with_the_flags_it_was_given(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with running_server(balances={"PENGU": "1116", "USD": "100"}) as server:
        args = ["--api-url", server.url, "--credentials", str(server.credentials_path), "--cycles", "1"]
        args += ["--cycle-sec", "1", "--set", "purge=[]", "--db", db, "--json"]
        done = subprocess.run(
            [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 0, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert first.startswith(
        "app_run_live.sh: LIVE trading (--live implied): makerfirst run --exchange coinbase --live"
    )
    assert server.url in first  # the flags it passes through, said up front
    summary = json.loads(done.stdout.split("\n", 1)[1])
    assert [c["index"] for c in summary["cycles"]] == [0]


def test_without_credentials_the_live_bot_refuses_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COINBASE_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    done = subprocess.run(
        [str(SCRIPT), "--loop", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.stdout.startswith("app_run_live.sh: LIVE trading (--live implied)")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
