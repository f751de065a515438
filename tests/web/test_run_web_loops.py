"""``makerfirst run --paper --web HOST:PORT`` (the issue's command, no --cycles): the bot runs until
the operator stops it, with its dashboard served beside it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from webkit import MAKERFIRST, TOKEN, Served, free_port, wait_until_serving


def test_web_without_cycles_runs_until_interrupted_and_serves_the_dashboard(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "bot.db"
    command = [*MAKERFIRST, "run", "--paper", "--cycle-sec", "1", "--db", f"sqlite:///{db}"]
    command += ["--web", f"127.0.0.1:{port}"]
    env = {**os.environ, "MAKERFIRST_WEB_TOKEN": TOKEN}
    bot = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, bot)
        served = Served(base, f"sqlite:///{db}", db, tmp_path / "bot.log")
        assert served.get("/api/v1/overview").status_code == 200
        assert bot.poll() is None  # still running: no --cycles means --loop
    finally:
        bot.send_signal(signal.SIGINT)
        _, err = bot.communicate(timeout=60)
    assert bot.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
