"""``makerfirst run`` never reaches a venue outside this machine without ``--live``.

The CLI runs in-process behind a socket guard: every ``connect`` to an address outside
127.0.0.0/8 and ::1, and every name lookup that would go to DNS, is refused and recorded. A test
fails on any such attempt, so "refused before any connection" is checked, not assumed.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from makerfirst.adapters.ccxt_exchange.client import api_endpoints
from makerfirst.adapters.ccxt_exchange.endpoints import (
    ApiUrlError,
    LiveTradingNotConfirmedError,
    host_of,
    is_loopback_host,
    iter_urls,
    require_local_or_live,
    rewrite_api_urls,
)
from makerfirst.adapters.sim_server.auth import generate_credentials
from makerfirst.cli.main import app

runner = CliRunner()


@dataclass
class SocketGuard:
    """What the guarded process tried to reach outside loopback."""

    attempts: list[str] = field(default_factory=list)


def _is_loopback_address(host: object) -> bool:
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


@pytest.fixture
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
    guard = SocketGuard()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        numeric_only = bool(kwargs.get("flags", 0) & socket.AI_NUMERICHOST)  # never asks DNS
        if not numeric_only and name.lower().rstrip(".") != "localhost" and not _is_loopback_address(name):
            try:  # a numeric spelling (127.1) needs no DNS; let the real resolver read it
                found = real_getaddrinfo(name, None, flags=socket.AI_NUMERICHOST)
            except OSError:
                found = []
            if not found or not all(_is_loopback_address(info[4][0]) for info in found):
                guard.attempts.append(f"getaddrinfo {name}")
                raise socket.gaierror(socket.EAI_NONAME, f"socket guard: no lookup of {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def checked(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback_address(address[0]):
            guard.attempts.append(f"connect {address!r}")
            raise ConnectionRefusedError(f"socket guard: no connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        checked(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        checked(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return guard


@dataclass
class RecordingServer:
    url: str
    paths: list[str]


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """An HTTP server on 127.0.0.1 that answers every request 404 and remembers its path."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            body = json.dumps({"error": ["EGeneral:Unknown method"]}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RecordingServer(f"http://127.0.0.1:{server.server_address[1]}", paths)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return generate_credentials().write(tmp_path / "key")


def _run(*args: str, db: Path) -> Any:
    return runner.invoke(app, ["run", *args, "--db", f"sqlite:///{db}"])


def test_kraken_with_a_loopback_api_url_talks_to_that_url_and_nowhere_else(
    socket_guard: SocketGuard, recording_server: RecordingServer, key_file: Path, tmp_path: Path
) -> None:
    result = _run(
        "--exchange", "kraken", "--api-url", recording_server.url, "--credentials", str(key_file),
        "--cycles", "1", "--cycle-sec", "1", db=tmp_path / "k.db",
    )  # fmt: skip
    assert recording_server.paths, result.output  # the bot asked our server for Kraken's markets
    assert all(path.startswith("/0/public/") for path in recording_server.paths)
    assert socket_guard.attempts == []
    assert result.exit_code == 2  # the server speaks no Kraken: a clean error, not a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("exchange", "api_url"),
    [
        ("coinbase", "https://api.coinbase.com"),
        ("kraken", "https://api.kraken.com"),
        ("coinbase", "http://127.0.0.1.nip.io:8765"),  # looks local, is a public DNS name
        ("coinbase", "http://localhost@api.coinbase.com"),  # user info, then the real host
        ("coinbase", "http://0.0.0.0:8765"),
        ("coinbase", "http://[::ffff:10.0.0.1]:8765"),
        ("coinbase", "http://10.1.2.3:8765"),
    ],
)
def test_a_host_outside_loopback_without_live_is_refused_before_any_connection(
    socket_guard: SocketGuard, key_file: Path, tmp_path: Path, exchange: str, api_url: str
) -> None:
    result = _run(
        "--exchange", exchange, "--api-url", api_url, "--credentials", str(key_file), "--cycles", "1",
        db=tmp_path / "x.db",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "--live" in result.stderr or "--api-url" in result.stderr
    assert socket_guard.attempts == []


@pytest.mark.parametrize("exchange", ["coinbase", "kraken", "binance"])
def test_the_real_venue_without_live_is_refused_before_any_connection(
    socket_guard: SocketGuard, tmp_path: Path, exchange: str
) -> None:
    result = _run("--exchange", exchange, "--cycles", "1", db=tmp_path / "x.db")
    assert result.exit_code == 2
    assert "--live" in result.stderr
    assert socket_guard.attempts == []


@pytest.mark.parametrize("api_url", ["ftp://127.0.0.1:8765", "http://:8765", "http://127.0.0.1:99999", "x"])
def test_a_malformed_api_url_is_refused_naming_it(
    socket_guard: SocketGuard, tmp_path: Path, api_url: str
) -> None:
    result = _run("--exchange", "kraken", "--api-url", api_url, "--cycles", "1", db=tmp_path / "x.db")
    assert result.exit_code == 2
    assert "--api-url" in result.stderr and "e.g. http://127.0.0.1:8765" in result.stderr
    assert socket_guard.attempts == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "127.255.255.254",
        "2130706433",
        "::1",
        "::ffff:127.0.0.1",
        "localhost",
        "LOCALHOST.",
    ],
)
def test_loopback_hosts_in_every_spelling_are_local(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "0.0.0.0",  # noqa: S104 - a host to judge, nothing binds to it
        "10.0.0.1",
        "128.0.0.1",
        "::ffff:10.0.0.1",
        "api.kraken.com",
        "127.0.0.1.nip.io",
    ],
)
def test_other_hosts_are_not_local(socket_guard: SocketGuard, host: str) -> None:
    assert not is_loopback_host(host)
    assert socket_guard.attempts == []  # judged without asking DNS


def test_every_ccxt_exchange_has_every_api_url_moved_to_the_given_base() -> None:
    for exchange_id in ccxt_async.exchanges:
        endpoints = api_endpoints(exchange_id, "http://127.0.0.1:9/")
        hosts = {host_of(url, endpoints.hostname) for url in iter_urls(endpoints.urls)}
        assert hosts == {"127.0.0.1"}, exchange_id
        require_local_or_live(exchange_id, endpoints.urls, endpoints.hostname, live=False)


def test_rewriting_keeps_each_api_groups_path() -> None:
    urls = {"public": "https://api.binance.com/api/v3", "sapi": {"v1": "https://api.binance.com/sapi/v1/"}}
    assert rewrite_api_urls(urls, "http://127.0.0.1:8766/") == {
        "public": "http://127.0.0.1:8766/api/v3",
        "sapi": {"v1": "http://127.0.0.1:8766/sapi/v1"},
    }
    with pytest.raises(ApiUrlError):
        rewrite_api_urls({}, "http://127.0.0.1:8766")


def test_live_lets_a_public_venue_through_and_nothing_else_does() -> None:
    endpoints = api_endpoints("kraken", None)
    require_local_or_live("kraken", endpoints.urls, endpoints.hostname, live=True)
    with pytest.raises(LiveTradingNotConfirmedError, match=r"api\.kraken\.com"):
        require_local_or_live("kraken", endpoints.urls, endpoints.hostname, live=False)


def test_an_api_url_without_an_exchange_is_refused_not_ignored(
    socket_guard: SocketGuard, tmp_path: Path
) -> None:
    result = _run(
        "--paper", "--fast", "--cycles", "1", "--api-url", "http://127.0.0.1:8765", db=tmp_path / "p.db"
    )
    assert result.exit_code == 2
    assert "--api-url needs --exchange" in result.output
