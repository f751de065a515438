"""A database written by a real paper run, and the real ``makerfirst web`` serving it on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

TOKEN = "test-dashboard-token-0123456789"  # noqa: S105  # a test token
MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.main import app; app()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(base: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"nothing served at {base} within {timeout} s")


@dataclass(frozen=True)
class Served:
    base: str
    db_url: str
    db_path: Path
    log: Path

    def get(self, path: str, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.base + path, headers=headers, timeout=10)

    def post(self, path: str, body: dict[str, str], token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.base + path, json=body, headers=headers, timeout=10)


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
