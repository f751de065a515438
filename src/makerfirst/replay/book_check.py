"""Rebuild every product's book from an ``EventStream`` and check it against the venue's own BBO.

The oracle for a decoder: a correct replay never shows a crossed book, and every applicable ``BBO``
row (``size`` 1) equals the rebuilt best bid and best ask exactly, in ticks.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from makerfirst.replay.events import BBO, BID, CLEAR, LEVEL, EventStream


@dataclass(frozen=True, slots=True)
class BookCheck:
    """What ``rebuild_check`` saw.

    ``messages_compared``: applicable BBO rows compared; ``mismatches``: those that differed (or met
    an empty side); ``crossed``: book updates after which a rebuilt book had best bid >= best ask
    (each counts as an error); ``first_problem``: the first mismatch or crossing, for a human.
    """

    messages_compared: int
    mismatches: int
    crossed: int
    first_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.crossed == 0


class RebuiltBook:
    """One product's levels with lazily cleaned heaps for the best bid and ask (ticks → lots)."""

    __slots__ = ("ask_heap", "asks", "bid_heap", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_heap: list[int] = []  # negated prices
        self.ask_heap: list[int] = []

    def set(self, side: int, price: int, size: int) -> None:
        levels, heap, key = (
            (self.bids, self.bid_heap, -price) if side == BID else (self.asks, self.ask_heap, price)
        )
        if size == 0:
            levels.pop(price, None)
        else:
            if price not in levels:
                heapq.heappush(heap, key)
            levels[price] = size

    def best_bid(self) -> int | None:
        while self.bid_heap and -self.bid_heap[0] not in self.bids:
            heapq.heappop(self.bid_heap)
        return -self.bid_heap[0] if self.bid_heap else None

    def best_ask(self) -> int | None:
        while self.ask_heap and self.ask_heap[0] not in self.asks:
            heapq.heappop(self.ask_heap)
        return self.ask_heap[0] if self.ask_heap else None


def rebuild_check(stream: EventStream) -> BookCheck:
    """Replay ``stream``'s CLEAR/LEVEL rows per product; compare each applicable BBO row exactly.

    Crossing is checked where a run of book rows ends (the next row has another time, product or
    kind), so a message that moves both sides is judged once it is wholly applied.
    """
    ev = stream.events
    ts, product, kind, side = (
        ev["ts_ns"].tolist(),
        ev["product"].tolist(),
        ev["kind"].tolist(),
        ev["side"].tolist(),
    )
    price, size, aux = ev["price"].tolist(), ev["size"].tolist(), ev["aux"].tolist()
    books: dict[int, RebuiltBook] = {}
    compared = mismatches = crossed = 0
    first_problem: str | None = None
    n = len(ts)
    for i in range(n):
        k, p = kind[i], product[i]
        book = books.get(p)
        if book is None:
            book = books[p] = RebuiltBook()
        if k == CLEAR:
            books[p] = RebuiltBook()
        elif k == LEVEL:
            book.set(side[i], price[i], size[i])
            run_ends = i + 1 == n or kind[i + 1] != LEVEL or product[i + 1] != p or ts[i + 1] != ts[i]
            if run_ends:
                bid, ask = book.best_bid(), book.best_ask()
                if bid is not None and ask is not None and bid >= ask:
                    crossed += 1
                    if first_problem is None:
                        first_problem = (
                            f"row {i}: {stream.products[p].product_id} crossed, bid {bid} >= ask {ask}"
                        )
        elif k == BBO and size[i] == 1:
            compared += 1
            bid, ask = book.best_bid(), book.best_ask()
            if bid != price[i] or ask != aux[i]:
                mismatches += 1
                if first_problem is None:
                    first_problem = (
                        f"row {i}: {stream.products[p].product_id} venue {price[i]}/{aux[i]} "
                        f"rebuilt {bid}/{ask} (ticks)"
                    )
    return BookCheck(compared, mismatches, crossed, first_problem)
