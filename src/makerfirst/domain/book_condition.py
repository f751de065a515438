"""A condition on a book's touch that a waiter can ask a venue to wake it on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.book import OrderBook


@dataclass(frozen=True, slots=True)
class BookCondition:
    """Holds when the best ask is strictly below ``best_ask_below`` or the best bid strictly above
    ``best_bid_above`` (None: that side is not watched; an empty side never satisfies it).

    A wake-up hint, never a decision: whoever waits on it reads the book again when woken and
    decides from that, so a venue that cannot watch the book simply wakes the waiter on its timer.
    """

    best_ask_below: Decimal | None = None
    best_bid_above: Decimal | None = None

    def holds(self, book: OrderBook) -> bool:
        if self.best_ask_below is not None and book.asks and book.best_ask < self.best_ask_below:
            return True
        return self.best_bid_above is not None and bool(book.bids) and book.best_bid > self.best_bid_above
