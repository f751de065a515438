"""Where a ccxt exchange sends its requests, pointing it at another base URL, and the live guard.

``--api-url`` must move *every* API URL of the exchange: ccxt keeps one per API group (Coinbase
has ``rest``; Kraken ``public`` and ``private``; Binance a dozen, each with its own path prefix).
:func:`rewrite_api_urls` replaces the scheme and host of each one and keeps its path, so
``https://api.binance.com/api/v3`` becomes ``http://127.0.0.1:8766/api/v3``.

:func:`require_local_or_live` is the guard in front of any connection: unless the run says
``--live``, every host the exchange would talk to must be a loopback address. A host is judged
by resolving it the way the connector will, never by looking at its spelling: IP literals in any
form the system resolver accepts (``127.1``, ``[::1]``, ``::ffff:127.0.0.1``) are resolved
numerically, and ``localhost`` through the hosts file. Any other name needs ``--live``, even one
that resolves to 127.0.0.1 today: it is never sent to DNS here, and a later lookup by the HTTP
client could answer differently.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from makerfirst.domain.errors import ApiUrlError as ApiUrlError  # noqa: PLC0414  # re-exported
from makerfirst.domain.errors import LiveTradingNotConfirmedError as LiveTradingNotConfirmedError  # noqa: PLC0414  # re-exported

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def check_api_url(api_url: str) -> str:
    """``api_url`` without a trailing slash, if it is an http(s) URL with a host and nothing else
    (no query, no fragment, no user info); else :class:`ApiUrlError`."""
    try:
        parts = urlsplit(api_url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ApiUrlError(f"--api-url {api_url!r} is not a URL ({exc}); e.g. http://127.0.0.1:8765") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ApiUrlError(
            f"--api-url {api_url!r} needs http:// or https:// and a host, e.g. http://127.0.0.1:8765"
        )
    if parts.query or parts.fragment or parts.username is not None or parts.password is not None:
        raise ApiUrlError(
            f"--api-url {api_url!r}: give only scheme, host, port and path, e.g. http://127.0.0.1:8765"
        )
    return api_url.strip().rstrip("/")


def rewrite_api_urls(urls: object, api_url: str) -> object:
    """ccxt's ``urls['api']`` (a URL string or a nested mapping of them) with the scheme and host of
    each URL replaced by ``api_url`` and its path kept. Raises :class:`ApiUrlError` when there is
    no URL to rewrite."""
    base = check_api_url(api_url)
    rewritten = _rewrite(urls, base)
    if not list(iter_urls(rewritten)):
        raise ApiUrlError(f"--api-url {api_url!r}: this ccxt exchange lists no API URL to point there")
    return rewritten


def _rewrite(node: object, base: str) -> object:
    if isinstance(node, str):
        if "://" not in node:
            return node
        parts = urlsplit(node)
        return base + parts.path.rstrip("/") + (f"?{parts.query}" if parts.query else "")
    if isinstance(node, Mapping):
        return {key: _rewrite(value, base) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_rewrite(value, base) for value in node]
    return node


def iter_urls(node: object) -> Iterator[str]:
    """Every URL string inside ccxt's ``urls['api']``."""
    if isinstance(node, str):
        if "://" in node:
            yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from iter_urls(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from iter_urls(value)


def host_of(url: str, hostname: str | None = None) -> str:
    """The host ``url`` connects to; ccxt's ``{hostname}`` placeholder is filled in first."""
    if hostname:
        url = url.replace("{hostname}", hostname)
    return urlsplit(url).hostname or ""


def is_loopback_host(host: str) -> bool:
    """True when every address ``host`` resolves to is in 127.0.0.0/8 or is ::1. Only numeric
    addresses and the loopback names are resolved (the hosts file, no DNS); other names are not."""
    name = host.strip().rstrip(".").lower()
    if not name:
        return False
    numeric = _numeric_addresses(name)
    if numeric is not None:
        return all(_loopback(address) for address in numeric)
    if name not in LOOPBACK_NAMES:
        return False
    try:
        found = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(found) and all(_loopback(str(info[4][0])) for info in found)


def _numeric_addresses(name: str) -> list[str] | None:
    """The addresses of a numeric host (any spelling ``inet_aton`` accepts), or None for a name."""
    try:
        found = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
    except OSError:
        return None
    return [str(info[4][0]) for info in found]


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def require_local_or_live(exchange_id: str, urls: object, hostname: str | None, *, live: bool) -> None:
    """Refuse (:class:`LiveTradingNotConfirmedError`) unless ``live`` or every API host is loopback."""
    if live:
        return
    remote = sorted({h for h in (host_of(u, hostname) for u in iter_urls(urls)) if not is_loopback_host(h)})
    if remote or not list(iter_urls(urls)):
        where = ", ".join(remote) or "no known host"
        raise LiveTradingNotConfirmedError(
            f"{exchange_id} would connect to {where}, which is not this machine; trading there needs"
            " --live (for a local sim-server pass --api-url http://127.0.0.1:PORT)"
        )
