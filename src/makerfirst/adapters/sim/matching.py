"""A price-time priority limit order book for one product, in integer ticks and lots.

Integers keep the hot loop exact and fast; the exchange converts to ``Decimal`` at its edge.
Every resting order, ours or the market's, queues at the back of its price level, so an order
of ours placed at a price that already has size waits behind all of it.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from makerfirst.domain.orders import Side


@dataclass(slots=True)
class RestingOrder:
    order_id: str
    side: Side
    price: int
    remaining: int
    ours: bool


@dataclass(frozen=True, slots=True)
class Match:
    """One execution: ``lots`` at the maker's ``price``."""

    maker_order_id: str
    taker_order_id: str
    taker_side: Side
    price: int
    lots: int
    maker_is_ours: bool
    taker_is_ours: bool


class MatchingEngine:
    def __init__(self) -> None:
        self._queues: dict[Side, dict[int, deque[RestingOrder]]] = {Side.BUY: {}, Side.SELL: {}}
        # Sorted ascending on both sides: the best bid is the last bid price, the best ask the first.
        self._prices: dict[Side, list[int]] = {Side.BUY: [], Side.SELL: []}
        self._orders: dict[str, RestingOrder] = {}

    # -- reading -------------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        prices = self._prices[Side.BUY]
        return prices[-1] if prices else None

    def best_ask(self) -> int | None:
        prices = self._prices[Side.SELL]
        return prices[0] if prices else None

    def would_cross(self, side: Side, price: int) -> bool:
        """True when a limit order at ``price`` would take liquidity on arrival."""
        if side is Side.BUY:
            ask = self.best_ask()
            return ask is not None and price >= ask
        bid = self.best_bid()
        return bid is not None and price <= bid

    def levels(self, side: Side, depth: int) -> list[tuple[int, int]]:
        """Up to ``depth`` (price, total lots) pairs, best first."""
        prices = self._prices[side]
        chosen = reversed(prices[-depth:]) if side is Side.BUY else iter(prices[:depth])
        return [(price, sum(o.remaining for o in self._queues[side][price])) for price in chosen]

    def prices(self, side: Side, depth: int) -> list[int]:
        """Up to ``depth`` prices with resting size, best first (no sizes: cheap)."""
        prices = self._prices[side]
        return prices[: -depth - 1 : -1] if side is Side.BUY else prices[:depth]

    def resting(self, order_id: str) -> RestingOrder | None:
        return self._orders.get(order_id)

    def queue_ahead(self, order_id: str) -> int:
        """Lots queued ahead of ``order_id`` at its own price."""
        order = self._orders[order_id]
        ahead = 0
        for other in self._queues[order.side][order.price]:
            if other is order:
                return ahead
            ahead += other.remaining
        raise KeyError(order_id)  # pragma: no cover - the index and the queues agree by construction

    def orders_at(self, side: Side, price: int) -> list[RestingOrder]:
        return list(self._queues[side].get(price, ()))

    # -- acting --------------------------------------------------------------------------------
    def submit(
        self, order_id: str, side: Side, price: int | None, lots: int, *, ours: bool, rest: bool
    ) -> list[Match]:
        """Match an incoming order, then rest what is left if ``rest``.

        ``price=None`` is a market order (never rests). The caller checks post-only beforehand
        with :meth:`would_cross`.
        """
        matches: list[Match] = []
        opposite = side.opposite
        remaining = lots
        while remaining > 0:
            best = self.best_ask() if side is Side.BUY else self.best_bid()
            if best is None or (price is not None and (best > price if side is Side.BUY else best < price)):
                break
            queue = self._queues[opposite][best]
            while remaining > 0 and queue:
                maker = queue[0]
                take = min(remaining, maker.remaining)
                maker.remaining -= take
                remaining -= take
                matches.append(Match(maker.order_id, order_id, side, best, take, maker.ours, ours))
                if maker.remaining == 0:
                    queue.popleft()
                    del self._orders[maker.order_id]
            if not queue:
                self._drop_level(opposite, best)
        if rest and remaining > 0 and price is not None:
            self._enqueue(RestingOrder(order_id, side, price, remaining, ours))
        return matches

    def cancel(self, order_id: str) -> int | None:
        """Remove a resting order; return the lots it still had, or None if it was not resting."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        queue = self._queues[order.side][order.price]
        queue.remove(order)
        if not queue:
            self._drop_level(order.side, order.price)
        return order.remaining

    def _enqueue(self, order: RestingOrder) -> None:
        queues = self._queues[order.side]
        if order.price not in queues:
            queues[order.price] = deque()
            bisect.insort(self._prices[order.side], order.price)
        queues[order.price].append(order)
        self._orders[order.order_id] = order

    def _drop_level(self, side: Side, price: int) -> None:
        del self._queues[side][price]
        prices = self._prices[side]
        del prices[bisect.bisect_left(prices, price)]
