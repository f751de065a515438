"""Record Coinbase Advanced Trade's public feed into gzip captures that ``makerfirst backtest`` reads.

One WebSocket connection subscribes ``level2``, ``market_trades``, ``ticker`` and ``heartbeats`` for the
products; every message goes through :class:`FeedTranslator` into the current file. Needs no keys and
never trades. The products file (the public ``/market/products`` answer for those products) is written
as ``products.txt`` beside the captures, where the backtest looks for it.

* A sequence gap writes a gap line and resubscribes ``level2``: the fresh snapshots resynchronise.
* A feed silent for :data:`STALE_SEC` (heartbeats come every second) or a dropped connection is a gap
  too: the recorder reconnects (after :data:`RECONNECT_SEC`) and resubscribes everything.
* ``rotate_sec`` starts a new file every so often; each file begins with a snapshot of every book, so
  each one replays on its own.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from makerfirst.clock import Clock
from makerfirst.domain.errors import MakerfirstError
from makerfirst.recording.capture import FeedTranslator

COINBASE_WS = "wss://advanced-trade-ws.coinbase.com"
COINBASE_REST = "https://api.coinbase.com"
PRODUCTS_PATH = "/api/v3/brokerage/market/products"
CHANNELS = ("heartbeats", "level2", "market_trades", "ticker")
STALE_SEC = 5.0
RECONNECT_SEC = 1.0
PROGRESS_SEC = 5.0
PRODUCTS_FILE = "products.txt"
_CONNECTION_TROUBLE = (OSError, TimeoutError, websockets.ConnectionClosed, websockets.InvalidHandshake)


@dataclass(frozen=True, slots=True)
class RecordConfig:
    products: list[str]
    out_dir: Path
    duration_sec: float = math.inf
    rotate_sec: float = math.inf
    ws_url: str = COINBASE_WS
    api_url: str = COINBASE_REST
    ca_file: Path | None = None  # trust this certificate too (a sim-server --tls)


@dataclass(frozen=True, slots=True)
class Progress:
    elapsed_sec: float
    messages: int
    lines: int
    gaps: int
    tickers_off_book: int
    file: Path
    file_bytes: int
    files: int

    def line(self) -> str:
        rate = self.messages / self.elapsed_sec if self.elapsed_sec > 0 else 0.0
        return (
            f"{self.elapsed_sec:7.1f} s  {self.messages} messages ({rate:.1f}/s)  {self.lines} lines  "
            f"{self.gaps} gaps  {self.file.name} {self.file_bytes / 1024:.1f} KiB"
        )


class _RotatingFile:
    """gzip capture files in ``out_dir``, a new one every ``rotate_sec`` (named by their start)."""

    def __init__(self, out_dir: Path, rotate_sec: float) -> None:
        self.out_dir = out_dir
        self.rotate_sec = rotate_sec
        self.paths: list[Path] = []
        self._handle: IO[str] | None = None
        self._opened_at = 0.0

    @property
    def path(self) -> Path:
        return self.paths[-1]

    def due(self, now: float) -> bool:
        return self._handle is None or now - self._opened_at >= self.rotate_sec

    def open(self, now: float) -> None:
        self.close()
        stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.out_dir / f"coinbase-{stamp}.txt.gz"
        self._handle = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - open across writes; close() ends it
        self._opened_at = now
        self.paths.append(path)

    def write(self, lines: list[str]) -> None:
        assert self._handle is not None
        self._handle.writelines(lines)

    def size(self) -> int:
        if self._handle is not None:
            self._handle.flush()
        return self.path.stat().st_size if self.paths else 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _ssl_context(url: str, ca_file: Path | None) -> ssl.SSLContext | None:
    if not url.startswith(("wss://", "https://")):
        return None
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


async def fetch_products(config: RecordConfig) -> dict[str, Any]:
    """The public products answer for ``config.products``; a clear error for unknown ones."""
    context = _ssl_context(config.api_url, config.ca_file)
    verify: ssl.SSLContext | bool = context if context is not None else True
    url = config.api_url.rstrip("/") + PRODUCTS_PATH
    try:
        async with httpx.AsyncClient(verify=verify, timeout=10) as client:
            answer = await client.get(url, params=[("product_ids", p) for p in config.products])
            answer.raise_for_status()
    except httpx.HTTPError as failed:
        raise MakerfirstError(f"cannot read the products from {url}: {failed}") from None
    body: dict[str, Any] = answer.json()
    known = {str(p.get("product_id")) for p in body.get("products", [])}
    unknown = [p for p in config.products if p not in known]
    if unknown:
        raise MakerfirstError(f"--products: {', '.join(unknown)} not listed by {url}")
    return {"products": [p for p in body["products"] if p["product_id"] in config.products]}


class Recorder:
    """Records until ``duration_sec`` has passed on ``clock`` (or :meth:`stop` is called)."""

    def __init__(
        self, config: RecordConfig, clock: Clock, on_progress: Callable[[Progress], None] | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_progress = on_progress
        self.translator = FeedTranslator(config.products)
        self.files = _RotatingFile(config.out_dir, config.rotate_sec)
        self._stopping = asyncio.Event()
        self._started = 0.0
        self._next_progress = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> Progress:
        config = self.config
        config.out_dir.mkdir(parents=True, exist_ok=True)
        products = await fetch_products(config)
        (config.out_dir / PRODUCTS_FILE).write_text(json.dumps(products, indent=1), encoding="utf-8")
        self._started = self.clock.now()
        self._next_progress = self._started + PROGRESS_SEC
        end = self._started + config.duration_sec
        try:
            while not self._stopping.is_set() and self.clock.now() < end:
                try:
                    await self._connection(end)
                except _CONNECTION_TROUBLE as lost:
                    if self._stopping.is_set() or self.clock.now() >= end:
                        break
                    gap = self.translator.gap(self.clock.now(), "disconnected", error=type(lost).__name__)
                    self._write(gap)
                    await self.clock.sleep_until(self.clock.now() + RECONNECT_SEC)
        finally:
            summary = self.progress()
            self.files.close()
        return summary

    def progress(self) -> Progress:
        counts = self.translator.counts
        return Progress(
            elapsed_sec=self.clock.now() - self._started,
            messages=counts.messages,
            lines=counts.lines,
            gaps=counts.gaps,
            tickers_off_book=counts.tickers_off_book,
            file=self.files.path if self.files.paths else self.config.out_dir,
            file_bytes=self.files.size() if self.files.paths else 0,
            files=len(self.files.paths),
        )

    async def _connection(self, end: float) -> None:
        context = _ssl_context(self.config.ws_url, self.config.ca_file)
        async with connect(self.config.ws_url, ssl=context, open_timeout=10, max_size=None) as ws:
            self.translator.connected()
            for channel in CHANNELS:
                await _send(ws, "subscribe", channel, [] if channel == "heartbeats" else self.config.products)
            while not self._stopping.is_set():
                left = end - self.clock.now()
                if left <= 0:
                    return
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=min(STALE_SEC, left))
                except TimeoutError:
                    if self.clock.now() >= end:
                        return
                    raise  # silent for STALE_SEC: reconnect
                now = self.clock.now()
                message = json.loads(text)
                if not isinstance(message, dict):
                    continue
                if message.get("type") == "error":
                    raise MakerfirstError(f"the feed refused a subscription: {message.get('message')}")
                lines, gap = self.translator.feed(now, message)
                self._write(lines)
                if gap:  # fresh snapshots bring every book back
                    await _send(ws, "unsubscribe", "level2", self.config.products)
                    await _send(ws, "subscribe", "level2", self.config.products)

    def _write(self, lines: list[str]) -> None:
        now = self.clock.now()
        if self.files.due(now):
            self.files.open(now)
            self.files.write(self.translator.snapshots(now))
        self.files.write(lines)
        if self.on_progress is not None and now >= self._next_progress:
            self._next_progress = now + PROGRESS_SEC
            self.on_progress(self.progress())


async def _send(ws: ClientConnection, kind: str, channel: str, products: list[str]) -> None:
    await ws.send(json.dumps({"type": kind, "channel": channel, "product_ids": products}))
