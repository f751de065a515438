"""Advanced Trade WebSocket messages → the capture lines ``makerfirst backtest`` reads.

The capture format is the Coinbase feed one of ``replay/coinbase_feed.py``: ``<epoch seconds>: <json>``
a line, with ``snapshot`` (``bids``/``asks`` as ``[price, size]``), ``l2update`` (``changes`` as
``[side, price, new_size]``), ``match`` (``side`` the maker's) and ``ticker`` (``best_bid``/``best_ask``)
messages, and a products file beside it. :class:`FeedTranslator` turns the Advanced Trade channels
into those messages (no I/O: it is handed each message with its receive time and returns lines):

* ``l2_data`` snapshot → ``snapshot``; update → ``l2update`` (``bid`` → ``buy``, ``offer`` → ``sell``);
* ``market_trades`` update → one ``match`` per trade; the channel's ``snapshot`` (recent trades sent
  on subscribe, possibly minutes old) is skipped, as the replay skips ``last_match``;
* ``ticker`` → one ``ticker`` per product, when both sides are known;
* ``heartbeats``, ``subscriptions`` and the rest carry nothing for a replay and are not written.

**Gaps.** ``sequence_num`` counts up by one per message on a connection. A jump, a reconnect or a
stale feed is a gap: :meth:`FeedTranslator.gap` writes a ``{"type": "gap", ...}`` line (the replay
skips unknown types) and puts every product out of sync: nothing of a product is written again until
its next level2 snapshot, which the replay reads as a ``CLEAR`` of the book. So a recorded file never
holds updates applied to a book that missed some, and the backtest drops the episodes that span a
re-snapshot (``replay/gaps.py``).

The translator keeps each product's book (to start a rotated file with a snapshot of it) and counts
tickers that disagree with that book: on a correct feed there are none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_BOOK_SIDE = {"bid": "buy", "offer": "sell", "ask": "sell"}


def capture_line(received: float, message: dict[str, Any]) -> str:
    """One capture line: receive time in epoch seconds (microseconds), then the JSON."""
    return f"{received:.6f}: {json.dumps(message, separators=(',', ':'))}\n"


@dataclass(slots=True)
class _Book:
    bids: dict[Decimal, str] = field(default_factory=dict)  # price → size text as received
    asks: dict[Decimal, str] = field(default_factory=dict)

    def set(self, side: str, price_text: str, size_text: str) -> None:
        levels = self.bids if side == "buy" else self.asks
        price = Decimal(price_text)
        if Decimal(size_text) == 0:
            levels.pop(price, None)
        else:
            levels[price] = size_text

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        return (max(self.bids) if self.bids else None), (min(self.asks) if self.asks else None)


@dataclass(slots=True)
class TranslatorCounts:
    messages: int = 0  # every message received
    lines: int = 0  # capture lines produced
    gaps: int = 0
    tickers_off_book: int = 0  # tickers whose best bid/ask differed from the book kept here


class FeedTranslator:
    """Turns one product set's Advanced Trade messages into capture lines (see the module docs)."""

    def __init__(self, product_ids: list[str]) -> None:
        self.product_ids = list(product_ids)
        self._books: dict[str, _Book] = {}
        self._in_sync: set[str] = set()
        self._expected: int | None = None  # the next sequence_num on this connection
        self.counts = TranslatorCounts()

    @property
    def out_of_sync(self) -> list[str]:
        return [p for p in self.product_ids if p not in self._in_sync]

    def connected(self) -> None:
        """A new connection: its sequence numbers start afresh."""
        self._expected = None

    def gap(self, received: float, reason: str, **details: Any) -> list[str]:
        """Mark a gap: every product is out of sync until its next snapshot."""
        self.counts.gaps += 1
        self._in_sync.clear()
        self._books.clear()
        marker = {"type": "gap", "reason": reason, "product_ids": self.product_ids, **details}
        line = capture_line(received, marker)
        self.counts.lines += 1
        return [line]

    def feed(self, received: float, message: dict[str, Any]) -> tuple[list[str], bool]:
        """(lines to write, whether a sequence gap was just found: the caller resubscribes level2)."""
        self.counts.messages += 1
        lines: list[str] = []
        sequence = message.get("sequence_num")
        gap_found = False
        if isinstance(sequence, int):
            if self._expected is not None and sequence != self._expected:
                lines += self.gap(received, "sequence", expected=self._expected, got=sequence)
                gap_found = True
            self._expected = sequence + 1
        channel = message.get("channel")
        for event in message.get("events") or []:
            if channel == "l2_data":
                lines += self._level2(received, event)
            elif channel == "market_trades" and event.get("type") == "update":
                lines += self._trades(received, event)
            elif channel == "ticker":
                lines += self._tickers(received, event)
        self.counts.lines += len(lines) - (1 if gap_found else 0)
        return lines, gap_found

    def snapshots(self, received: float) -> list[str]:
        """A ``snapshot`` line of every in-sync book: how a rotated file starts."""
        lines = []
        for product_id in self.product_ids:
            book = self._books.get(product_id)
            if product_id in self._in_sync and book is not None:
                lines.append(capture_line(received, _snapshot(product_id, book)))
        self.counts.lines += len(lines)
        return lines

    # -- channels ------------------------------------------------------------------------------
    def _level2(self, received: float, event: dict[str, Any]) -> list[str]:
        product_id = str(event["product_id"])
        if product_id not in self.product_ids:
            return []
        kind = event.get("type")
        if kind == "snapshot":
            book = _Book()
            for u in event["updates"]:
                book.set(_BOOK_SIDE[u["side"]], u["price_level"], u["new_quantity"])
            self._books[product_id] = book
            self._in_sync.add(product_id)
            return [capture_line(received, _snapshot(product_id, book))]
        if kind != "update" or product_id not in self._in_sync:
            return []
        book = self._books[product_id]
        changes = []
        for u in event["updates"]:
            side = _BOOK_SIDE[u["side"]]
            book.set(side, u["price_level"], u["new_quantity"])
            changes.append([side, u["price_level"], u["new_quantity"]])
        time = event["updates"][0]["event_time"] if event["updates"] else ""
        message = {"type": "l2update", "product_id": product_id, "changes": changes, "time": time}
        return [capture_line(received, message)]

    def _trades(self, received: float, event: dict[str, Any]) -> list[str]:
        lines = []
        for t in event.get("trades") or []:
            if t["product_id"] not in self._in_sync:
                continue
            match = {
                "type": "match",
                "trade_id": t["trade_id"],
                "product_id": t["product_id"],
                "price": t["price"],
                "size": t["size"],
                "side": str(t["side"]).lower(),  # the maker's, as the replay expects
                "time": t["time"],
            }
            lines.append(capture_line(received, match))
        return lines

    def _tickers(self, received: float, event: dict[str, Any]) -> list[str]:
        lines = []
        for t in event.get("tickers") or []:
            product_id = t["product_id"]
            if product_id not in self._in_sync or not t.get("best_bid") or not t.get("best_ask"):
                continue
            if self._books[product_id].best() != (Decimal(t["best_bid"]), Decimal(t["best_ask"])):
                self.counts.tickers_off_book += 1
            ticker = {
                "type": "ticker",
                "product_id": product_id,
                "price": t.get("price", ""),
                "best_bid": t["best_bid"],
                "best_ask": t["best_ask"],
                "volume_24h": t.get("volume_24_h", ""),
            }
            lines.append(capture_line(received, ticker))
        return lines


def _snapshot(product_id: str, book: _Book) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "product_id": product_id,
        "bids": [[str(p), book.bids[p]] for p in sorted(book.bids, reverse=True)],
        "asks": [[str(p), book.asks[p]] for p in sorted(book.asks)],
    }
