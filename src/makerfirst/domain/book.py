"""Order-book snapshots as the engine sees them: bids best-first (descending), asks best-first."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.domain.errors import EmptyBookError as EmptyBookError  # noqa: PLC0414  # re-exported
from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Side


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """``timestamp``: the venue's time of the book. ``as_of``: the reader's clock time at which the
    book was last known to be the venue's current one (a streamed book: the feed's last message
    while in sync); None for a book read just now from the venue. ``age_sec`` is what the liquidity
    guard holds against ``guards.max_book_age_sec``."""

    product_id: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    timestamp: float
    as_of: float | None = None

    def age_sec(self, now: float) -> float:
        """Seconds since the book was known current (0 for a book read just now)."""
        return 0.0 if self.as_of is None else max(0.0, now - self.as_of)

    @property
    def best_bid(self) -> Decimal:
        if not self.bids:
            raise EmptyBookError(f"{self.product_id}: no bids in the book")
        return self.bids[0].price

    @property
    def best_ask(self) -> Decimal:
        if not self.asks:
            raise EmptyBookError(f"{self.product_id}: no asks in the book")
        return self.asks[0].price

    @property
    def mid(self) -> Decimal:
        return (self.best_bid + self.best_ask) / 2

    @property
    def spread_bps(self) -> Decimal:
        return (self.best_ask - self.best_bid) / self.mid * BPS

    def touch(self, side: Side) -> Decimal:
        """The best price on ``side`` of the book."""
        return self.best_bid if side is Side.BUY else self.best_ask

    def without(self, side: Side, price: Decimal, size: Decimal) -> OrderBook:
        """The book less ``size`` resting at ``price`` on ``side`` (our own order, as the venue shows
        it: a level left empty goes). A price with no level leaves the book as it is."""
        levels = self.bids if side is Side.BUY else self.asks
        kept = tuple(
            replace(level, size=level.size - size) if level.price == price else level
            for level in levels
            if level.price != price or level.size > size
        )
        if side is Side.BUY:
            return replace(self, bids=kept)
        return replace(self, asks=kept)

    def depth_usd(self, side: Side, band_bps: Decimal) -> Decimal:
        """Quote notional resting on ``side`` within ``band_bps`` of the mid."""
        mid = self.mid
        levels = self.bids if side is Side.BUY else self.asks
        limit = band_bps / BPS * mid
        return sum(
            (level.price * level.size for level in levels if abs(level.price - mid) <= limit),
            start=ZERO,
        )

    def buy_cost(self, size: Decimal) -> tuple[Decimal, Decimal]:
        """(size that the asks supply, quote it costs) when ``size`` walks the ask side."""
        return _walk(self.asks, size)

    def sell_proceeds(self, size: Decimal) -> tuple[Decimal, Decimal]:
        """(size that the bids absorb, quote it brings) when ``size`` walks the bid side."""
        return _walk(self.bids, size)


def _walk(levels: tuple[Level, ...], size: Decimal) -> tuple[Decimal, Decimal]:
    """Take ``size`` from ``levels`` best first: (size taken, its quote value)."""
    left, value = size, ZERO
    for level in levels:
        take = min(left, level.size)
        value += take * level.price
        left -= take
        if left <= ZERO:
            break
    return size - left, value
