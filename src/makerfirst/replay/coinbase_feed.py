"""Decoder for a Coinbase (Pro/Exchange) websocket capture: ``<epoch seconds>: <json>`` a line.

Lines starting with ``wss://`` record the connection and subscriptions and are skipped. Messages:

* ``snapshot``                → ``CLEAR`` then one ``LEVEL`` row per ``[price, size]``;
* ``l2update``                → one ``LEVEL`` row per ``[side, price, new_size]`` (size 0 removes);
* ``match``                   → ``TRADE``; Coinbase's ``side`` is the *maker's*, so the row carries
  the opposite (the aggressor's) side;
* ``last_match``              → skipped: Coinbase sends it on subscribe as a reminder of the latest
  trade, which may be minutes old; read at its receive time it would be a trade that never happened
  inside the capture (and, for a quiet product, its only "taker");
* ``ticker``                  → ``BBO`` (``price`` = best bid, ``aux`` = best ask); ``size`` is 0 for
  each product's first ticker (sent on subscription, it predates the snapshot and is stale), else 1.

Other message types (``subscriptions``, ``heartbeat``, ...) carry nothing for an L2 replay and are
skipped. Products are indexed in the order they first appear; ticks and lots come from the products
file (``quote_increment``/``price_increment`` and ``base_increment``), and every price or size that is
not a whole number of them is an error. Times are the receive times of the line prefix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from makerfirst.adapters.products_file import load_catalogue
from makerfirst.replay.decoding import (
    CaptureFormatError,
    RowBuilder,
    UnitScale,
    open_text,
    seconds_text_to_ns,
)
from makerfirst.replay.events import ASK, BBO, BID, BUY, CLEAR, LEVEL, SELL, TRADE, EventStream, ProductScale

_BOOK_SIDE = {"buy": BID, "sell": ASK}
_AGGRESSOR_OF_MAKER_SIDE = {"buy": SELL, "sell": BUY}  # a resting buy was hit by a seller, and so on


def decode_coinbase_feed(feed: Path, products_file: Path) -> EventStream:
    """Decode ``feed`` into an ``EventStream``, with ticks and lots from ``products_file``.

    Raises ``CaptureFormatError`` (file and line) on a line that is not ``<time>: <json>``, a message
    missing a field, a product absent from the products file, or an off-increment price or size.
    """
    decoder = _Decoder(feed, products_file)
    with open_text(feed) as lines:  # binary or damaged input: a CaptureFormatError at its line
        for line_no, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("wss://"):
                continue
            try:
                decoder.feed(line_no, line)
            except CaptureFormatError:
                raise
            except (ValueError, KeyError, TypeError) as bad:
                what = f"missing or unexpected field {bad}" if isinstance(bad, KeyError) else str(bad)
                raise CaptureFormatError(feed, line_no, what) from bad
    return EventStream(tuple(decoder.scales), decoder.rows.to_array())


class _Decoder:
    """Products met so far (index, scales) and the rows decoded."""

    def __init__(self, feed: Path, products_file: Path) -> None:
        self.feed_path = feed
        self.products_file = products_file
        self.catalogue = load_catalogue(products_file)
        self.rows = RowBuilder()
        self.index: dict[str, int] = {}
        self.scales: list[ProductScale] = []
        self.ticks: list[UnitScale] = []
        self.lots: list[UnitScale] = []
        self.ticker_seen: set[int] = set()

    def product_of(self, message: dict[str, Any], line_no: int) -> int:
        product_id = str(message["product_id"])
        found = self.index.get(product_id)
        if found is not None:
            return found
        product = self.catalogue.products.get(product_id)
        if product is None:
            raise CaptureFormatError(self.feed_path, line_no, f"{product_id} is not in {self.products_file}")
        self.index[product_id] = len(self.scales)
        self.scales.append(ProductScale(product_id, product.price_increment, product.base_increment))
        self.ticks.append(UnitScale(product.price_increment))
        self.lots.append(UnitScale(product.base_increment))
        return self.index[product_id]

    def feed(self, line_no: int, line: str) -> None:
        stamp, sep, body = line.partition(": ")
        if not sep:
            raise ValueError("expected '<epoch seconds>: <json>'")
        ts = seconds_text_to_ns(stamp)
        message = json.loads(body)
        kind = message.get("type")
        if kind not in ("l2update", "match", "ticker", "snapshot"):
            return
        p = self.product_of(message, line_no)
        tick, lot, rows = self.ticks[p], self.lots[p], self.rows
        if kind == "l2update":
            for side, price, size in message["changes"]:
                rows.add(ts, p, LEVEL, _BOOK_SIDE[side], tick(price), lot(size))
        elif kind == "ticker":
            applies = 1 if p in self.ticker_seen else 0
            self.ticker_seen.add(p)
            rows.add(ts, p, BBO, 0, tick(message["best_bid"]), applies, tick(message["best_ask"]))
        elif kind == "snapshot":
            rows.add(ts, p, CLEAR, 0, 0, 0)
            for side, levels in ((BID, message["bids"]), (ASK, message["asks"])):
                for price, size in levels:
                    rows.add(ts, p, LEVEL, side, tick(price), lot(size))
        else:
            aggressor = _AGGRESSOR_OF_MAKER_SIDE[message["side"]]
            rows.add(ts, p, TRADE, aggressor, tick(message["price"]), lot(message["size"]))
