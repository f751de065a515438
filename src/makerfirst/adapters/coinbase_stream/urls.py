"""Where the WebSocket feed is, given where REST is (``--api-url``), when ``--ws-url`` is not given.

Coinbase itself (no ``--api-url``, or one on ``coinbase.com``): its market-data endpoint, which
also serves the ``user`` channel with a JWT (coinbase-advanced-api.md §6). Anything else (a
sim-server): the same host and port, ``http`` → ``ws``, ``https`` → ``wss``, path ``/ws``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from makerfirst.adapters.coinbase_stream.feed import COINBASE_WS
from makerfirst.domain.errors import ApiUrlError

_SCHEMES = {"http": "ws", "https": "wss"}


def feed_url_of(api_url: str | None) -> str:
    """The feed URL that goes with the REST base ``api_url`` (module docs)."""
    if api_url is None:
        return COINBASE_WS
    parts = urlsplit(api_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in _SCHEMES or not host:
        raise ApiUrlError(
            f"--api-url {api_url!r} needs http:// or https:// and a host, e.g. http://127.0.0.1:8765"
        )
    if host == "coinbase.com" or host.endswith(".coinbase.com"):
        return COINBASE_WS
    return f"{_SCHEMES[parts.scheme]}://{parts.netloc}/ws"


def check_feed_url(ws_url: str) -> str:
    """``ws_url`` if it is a ws(s):// URL with a host, else :class:`ApiUrlError` naming the fix."""
    parts = urlsplit(ws_url.strip())
    if parts.scheme not in {"ws", "wss"} or not parts.hostname:
        raise ApiUrlError(
            f"--ws-url {ws_url!r} needs ws:// or wss:// and a host, e.g. ws://127.0.0.1:8765/ws"
        )
    return ws_url.strip()
