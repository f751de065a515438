"""Decoder for a Binance spot depth/trade capture: ``<epoch ns> <json>`` a line, optionally gzipped.

Messages (raw, or wrapped as ``{"stream": ..., "data": ...}`` by a combined stream), one symbol:

* a REST depth snapshot (``lastUpdateId``, ``bids``, ``asks``) → ``CLEAR`` + ``LEVEL`` rows;
* ``depthUpdate`` diffs (``U``..``u``) → ``LEVEL`` rows, synchronised with the snapshot as Binance
  documents: diffs received before the snapshot are buffered; those with ``u <= lastUpdateId`` are
  dropped; the first one applied must bracket ``lastUpdateId + 1`` (``U <= lastUpdateId + 1 <= u``),
  and every later one must start where the previous ended (``U == previous u + 1``). Buffered diffs
  are emitted right after the snapshot, stamped with the snapshot's receive time (that is when a
  client could apply them). A gap raises ``CaptureFormatError`` naming the line;
* ``trade`` / ``aggTrade`` → ``TRADE``; ``m`` (buyer is the maker) means the aggressor SOLD;
* ``bookTicker`` → ``BBO`` at its receive time (``price`` = ``b``, ``aux`` = ``a``). The ticker
  stream runs ahead of the 100 ms diffs, so a ticker applies to the rebuilt book only when the last
  applied update id equals its ``u``: then ``size`` is 1. A ticker whose ``u`` is still ahead of the
  book is emitted with ``size`` 0 and, if a later diff ends exactly at that ``u``, repeated with
  ``size`` 1 right after that diff's rows (stamped with the diff's receive time). Tickers whose ``u``
  falls inside a diff are never checkable (the book is only known at diff boundaries).

Ticks and lots: the stream's tick (lot) is the finer of the venue's increment (``KNOWN_INCREMENTS``,
when the symbol is there) and the coarsest power of ten that every price (size) in the capture is a
multiple of. The data can be finer than today's rule: in the BTCUSDT capture three depth levels show
6-decimal sizes (resting orders older than the 0.00001 step), so its lot is 0.000001 BTC.
"""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

from makerfirst.replay.decoding import CaptureFormatError, RowBuilder, UnitScale, open_text
from makerfirst.replay.events import ASK, BBO, BID, BUY, CLEAR, LEVEL, SELL, TRADE, EventStream, ProductScale

# Binance spot exchangeInfo, BTCUSDT filters in August 2024: PRICE_FILTER.tickSize "0.01000000",
# LOT_SIZE.stepSize "0.00001000". Every trade and bookTicker of the capture fits them.
KNOWN_INCREMENTS: dict[str, tuple[Decimal, Decimal]] = {
    "BTCUSDT": (Decimal("0.01"), Decimal("0.00001")),
}


def _read_messages(path: Path) -> list[tuple[int, int, dict[str, Any]]]:
    """(line number, receive ns, message payload) for every non-blank line."""
    out: list[tuple[int, int, dict[str, Any]]] = []
    with open_text(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            stamp, sep, body = line.partition(" ")
            try:
                if not sep or not (stamp.isascii() and stamp.isdigit()):
                    raise ValueError("expected '<epoch ns> <json>'")
                message = json.loads(body)
                if not isinstance(message, dict):
                    raise ValueError("the JSON is not an object")
            except ValueError as bad:
                raise CaptureFormatError(path, line_no, str(bad)) from bad
            data = message.get("data", message) if "stream" in message else message
            out.append((line_no, int(stamp), data))
    return out


def _decimals_needed(text: str) -> int:
    _, _, frac = text.partition(".")
    return len(frac.rstrip("0"))


def derive_increments(path: Path) -> tuple[Decimal, Decimal]:
    """(tick, lot): the coarsest powers of ten that divide every price and size in the capture.

    A short capture may never show the finest digit, so this alone can be coarser than the venue's
    increments; ``decode_binance_depth`` takes the finer of this and ``KNOWN_INCREMENTS``.
    """
    return _derive(_read_messages(path))


def _derive(messages: list[tuple[int, int, dict[str, Any]]]) -> tuple[Decimal, Decimal]:
    price_decimals = size_decimals = 0
    for _, _, msg in messages:
        pairs: list[tuple[str, str]] = []
        if "lastUpdateId" in msg:
            pairs = [*msg["bids"], *msg["asks"]]
        elif msg.get("e") == "depthUpdate":
            pairs = [*msg["b"], *msg["a"]]
        elif msg.get("e") in ("trade", "aggTrade"):
            pairs = [(msg["p"], msg["q"])]
        elif "u" in msg and "b" in msg:
            pairs = [(msg["b"], msg["B"]), (msg["a"], msg["A"])]
        for price, size in pairs:
            price_decimals = max(price_decimals, _decimals_needed(price))
            size_decimals = max(size_decimals, _decimals_needed(size))
    return Decimal(1).scaleb(-price_decimals), Decimal(1).scaleb(-size_decimals)


def decode_binance_depth(path: Path) -> EventStream:
    """Decode one symbol's depth/trade/bookTicker capture into an ``EventStream`` (product index 0).

    Raises ``CaptureFormatError`` (file and line) on a bad line, a second symbol, a diff sequence gap,
    no diff bracketing a snapshot, diffs but no snapshot, or an off-increment price or size.
    """
    messages = _read_messages(path)
    symbols = {str(m["s"]) for _, _, m in messages if "s" in m}
    if len(symbols) != 1:
        raise CaptureFormatError(path, 1, f"expected one symbol, found {sorted(symbols) or 'none'}")
    (symbol,) = symbols
    tick, lot = _derive(messages)
    if symbol in KNOWN_INCREMENTS:
        venue_tick, venue_lot = KNOWN_INCREMENTS[symbol]
        tick, lot = min(tick, venue_tick), min(lot, venue_lot)
    to_ticks, to_lots = UnitScale(tick), UnitScale(lot)

    decoder = _Decoder(path, to_ticks, to_lots)
    for line_no, ts, msg in messages:
        try:
            decoder.feed(line_no, ts, msg)
        except CaptureFormatError:
            raise
        except (ValueError, KeyError, TypeError) as bad:
            what = f"missing or unexpected field {bad}" if isinstance(bad, KeyError) else str(bad)
            raise CaptureFormatError(path, line_no, what) from bad
    if decoder.buffered:
        raise CaptureFormatError(path, decoder.buffered[0][0], "depth diffs but no snapshot in the capture")
    return EventStream((ProductScale(symbol, tick, lot),), decoder.rows.to_array())


class _Decoder:
    """The snapshot/diff synchronisation state for one symbol (product index 0)."""

    def __init__(self, path: Path, to_ticks: UnitScale, to_lots: UnitScale) -> None:
        self.path = path
        self.to_ticks = to_ticks
        self.to_lots = to_lots
        self.rows = RowBuilder()
        self.last_u: int | None = None  # the book's last applied update id; None before a snapshot
        self.synced = False  # a diff bracketing the snapshot has been applied
        self.buffered: list[tuple[int, int, dict[str, Any]]] = []
        self.pending_tickers: deque[tuple[int, int, int]] = deque()  # (u, bid, ask), u ascending

    def feed(self, line_no: int, ts: int, msg: dict[str, Any]) -> None:
        if "lastUpdateId" in msg:
            self.snapshot(ts, msg)
        elif msg.get("e") == "depthUpdate":
            if self.last_u is None:
                self.buffered.append((line_no, ts, msg))
            else:
                self.diff(ts, line_no, msg)
        elif msg.get("e") in ("trade", "aggTrade"):
            aggressor = SELL if msg["m"] else BUY
            self.rows.add(ts, 0, TRADE, aggressor, self.to_ticks(msg["p"]), self.to_lots(msg["q"]))
        elif "u" in msg and "b" in msg and "a" in msg:
            u, bid, ask = int(msg["u"]), self.to_ticks(msg["b"]), self.to_ticks(msg["a"])
            applies = self.last_u is not None and u == self.last_u
            self.rows.add(ts, 0, BBO, 0, bid, 1 if applies else 0, ask)
            if self.last_u is None or u > self.last_u:
                self.pending_tickers.append((u, bid, ask))

    def snapshot(self, ts: int, msg: dict[str, Any]) -> None:
        self.last_u = int(msg["lastUpdateId"])
        self.synced = False
        self.rows.add(ts, 0, CLEAR, 0, 0, 0)
        self.levels(ts, msg["bids"], msg["asks"])
        self.check_pending(ts)
        for line_no, _, buffered in self.buffered:
            self.diff(ts, line_no, buffered)
        self.buffered.clear()

    def diff(self, ts: int, line_no: int, msg: dict[str, Any]) -> None:
        assert self.last_u is not None
        first, final = int(msg["U"]), int(msg["u"])
        if not self.synced:
            if final <= self.last_u:
                return  # already in the snapshot
            if not first <= self.last_u + 1 <= final:
                raise CaptureFormatError(
                    self.path,
                    line_no,
                    f"diff {first}..{final} does not bracket the snapshot's lastUpdateId {self.last_u} + 1",
                )
            self.synced = True
        elif first != self.last_u + 1:
            raise CaptureFormatError(
                self.path,
                line_no,
                f"sequence gap: diff starts at {first}, the previous ended at {self.last_u}",
            )
        self.levels(ts, msg["b"], msg["a"])
        self.last_u = final
        self.check_pending(ts)

    def levels(self, ts: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, levels in ((BID, bids), (ASK, asks)):
            for price, size in levels:
                self.rows.add(ts, 0, LEVEL, side, self.to_ticks(price), self.to_lots(size))

    def check_pending(self, ts: int) -> None:
        """Repeat, as a checkable BBO, a ticker that ran ahead of the book and is now level with it."""
        while self.pending_tickers and self.last_u is not None and self.pending_tickers[0][0] <= self.last_u:
            u, bid, ask = self.pending_tickers.popleft()
            if u == self.last_u:
                self.rows.add(ts, 0, BBO, 0, bid, 1, ask)
