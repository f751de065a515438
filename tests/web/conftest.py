"""A database written by a real paper run, and the real ``makerfirst web`` serving it on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from webkit import MAKERFIRST, TOKEN, Served, free_port, wait_until_serving


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's demo: 20 cycles on paper, virtual clock, seed 1."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    run = [
        *MAKERFIRST,
        "run",
        "--paper",
        "--fast",
        "--cycles",
        "20",
        "--seed",
        "1",
        "--db",
        f"sqlite:///{path}",
    ]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return path


def serve(db: Path, log: Path) -> Iterator[Served]:
    port = free_port()
    env = {**os.environ, "MAKERFIRST_WEB_TOKEN": TOKEN}
    env.pop("MAKERFIRST_ALERT_WEBHOOK_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*MAKERFIRST, "web", "--db", f"sqlite:///{db}", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, process)
            yield Served(base, f"sqlite:///{db}", db, log)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def dashboard(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``makerfirst web`` over the demo database (read-only: nothing here presses the kill switch)."""
    yield from serve(demo_db, tmp_path_factory.mktemp("web") / "web.log")


@pytest.fixture
def dashboard_copy(demo_db: Path, tmp_path: Path) -> Iterator[Served]:
    """A dashboard over a copy of the demo database, for tests that change it."""
    copy = tmp_path / "demo-copy.db"
    copy.write_bytes(demo_db.read_bytes())
    yield from serve(copy, tmp_path / "web.log")
