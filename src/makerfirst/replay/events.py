"""The normalized, columnar event stream every capture is decoded into (once, then cached).

One row per event, in receive-time order, integer ticks and lots (a product's tick and lot are
kept beside the array, as ``Decimal``). Kinds:

* ``CLEAR``     the product's book is about to be replaced by a snapshot (price/size unused);
* ``LEVEL``     set the resting size at (side, price) to ``size`` lots; 0 removes the level
                (snapshots are a ``CLEAR`` followed by ``LEVEL`` rows);
* ``TRADE``     a trade of ``size`` lots at ``price``; ``side`` is the *aggressor's* side;
* ``BBO``       the venue's own best bid (``price``) and best ask (``aux``) at that moment, a
                check for the rebuilt book (Coinbase ``ticker``, Binance ``bookTicker``); ``size``
                is 1 if the check applies, 0 if it is known stale (Coinbase's first ticker).

``side`` is ``BID``/``ASK`` for book rows, ``BUY``/``SELL`` (= ``BID``/``ASK``) for trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

CLEAR, LEVEL, TRADE, BBO = 0, 1, 2, 3
BID, ASK = 1, -1
BUY, SELL = BID, ASK

EVENT_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),  # receive time, nanoseconds since the epoch
        ("product", np.int16),  # index into EventStream.products
        ("kind", np.int8),
        ("side", np.int8),
        ("price", np.int64),  # ticks
        ("size", np.int64),  # lots
        ("aux", np.int64),  # BBO: best ask in ticks; otherwise 0
    ]
)


@dataclass(frozen=True, slots=True)
class ProductScale:
    """How a product's decimal prices and sizes map to integer ticks and lots."""

    product_id: str
    tick: Decimal
    lot: Decimal


@dataclass(frozen=True, slots=True)
class EventStream:
    products: tuple[ProductScale, ...]
    events: np.ndarray  # of EVENT_DTYPE, sorted by ts_ns (stable: the file's order within a ts)
