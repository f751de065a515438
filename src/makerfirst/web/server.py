"""Serving the app with uvicorn: on its own (``makerfirst web``) or as a task beside the bot in the
same event loop (``makerfirst run --web``), so the kill switch can stop the bot's loops directly."""

from __future__ import annotations

import ipaddress
import socket

import uvicorn
from fastapi import FastAPI

from makerfirst.domain.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, value
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--web expects HOST:PORT, e.g. 127.0.0.1:8801, got {value!r}")
    return host or DEFAULT_HOST, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    # No access log: a request line is no place for anything an operator typed.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    return uvicorn.Server(config)


def check_free(host: str, port: int, flag: str) -> None:
    """Fail now, in one line, rather than from inside uvicorn once the bot is running."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as taken:
        raise InputError(f"{flag} {host}:{port}: cannot listen there ({taken.strerror})") from None
