"""A small synchronous client of the sim-server's WebSocket feed, for tests."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

Message = dict[str, Any]


def open_feed(url: str, ca_file: Path | None = None) -> ClientConnection:
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None
    return connect(url, ssl=context, open_timeout=5)


def subscribe(ws: ClientConnection, channel: str, products: list[str], jwt: str | None = None) -> None:
    message: Message = {"type": "subscribe", "channel": channel, "product_ids": products}
    if jwt is not None:
        message["jwt"] = jwt
    ws.send(json.dumps(message))


def read_until(
    ws: ClientConnection, done: Callable[[list[Message]], bool], timeout: float = 5.0
) -> list[Message]:
    """Every message received until ``done(messages)`` holds; fails after ``timeout`` seconds."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while not done(messages):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {len(messages)} messages: {messages[-3:]}")
        messages.append(json.loads(ws.recv(timeout=left)))
    return messages


def drain(ws: ClientConnection, seconds: float) -> list[Message]:
    """Every message that arrives in the next ``seconds``."""
    messages: list[Message] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            messages.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return messages


class Book:
    """A level2 book rebuilt from ``l2_data`` events: price → size per side."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.snapshots = 0

    def apply(self, event: Message) -> None:
        if event["type"] == "snapshot":
            self.bids, self.asks = {}, {}
            self.snapshots += 1
        for update in event["updates"]:
            side = self.bids if update["side"] == "bid" else self.asks
            price, size = Decimal(update["price_level"]), Decimal(update["new_quantity"])
            if size == 0:
                side.pop(price, None)
            else:
                side[price] = size

    def best(self) -> tuple[Decimal, Decimal]:
        return max(self.bids), min(self.asks)
