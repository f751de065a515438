"""Top-of-book tracking: when a resting maker order should be cancelled and re-placed (pure).

The design note's diagnosis of stuck purges was that "orders never became top-of-book before TTL
expiry": an order rests where it was placed while the book moves. With tracking, a resting order
is re-priced (cancel, confirmed terminal, then a new order from a fresh book, the engine's one
cancel path) when it is no longer the best price on its side or a better price is available
without crossing, within a replace budget per attempt and a minimum rest per order (the rate
limit: at most one replace per ``min_rest_sec``). The attempt's TTL, the ladder and the taker
fallback around it stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from makerfirst.algorithms.pricing import maker_price
from makerfirst.domain.book import OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.policy import Policy


@dataclass(frozen=True, slots=True)
class Tracking:
    """How a maker attempt follows the touch. ``max_replaces``: new orders per attempt after its
    first; ``min_rest_sec``: an order rests at least this long before it may be replaced (so
    replaces never exceed one per ``min_rest_sec``); ``check_sec``: how often the book is read;
    ``chase_undercuts``: re-place when another order betters ours (False: only when the far touch
    moved so that a better price is ours to take; an undercut is left to the attempt's end)."""

    max_replaces: int = 6
    min_rest_sec: float = 2.0
    check_sec: float = 1.0
    chase_undercuts: bool = True

    def __post_init__(self) -> None:
        if self.max_replaces < 0 or self.min_rest_sec <= 0 or self.check_sec <= 0:
            raise ValueError("tracking needs max_replaces >= 0, min_rest_sec > 0 and check_sec > 0")

    @classmethod
    def from_policy(cls, policy: Policy) -> Tracking:
        """The policy's ``purge_execution.tracking`` keys (so a sweep can vary them)."""
        keys = policy.portfolio_management.purge_execution.tracking
        return cls(keys.max_replaces, float(keys.min_rest_sec), float(keys.check_sec))


def displaced(
    book: OrderBook,
    side: Side,
    resting_price: Decimal,
    cushion_ticks: int,
    product: Product,
    *,
    chase_undercuts: bool = True,
) -> bool:
    """Whether an order resting at ``resting_price`` should be re-placed, seen from ``book``.

    A sell is displaced when another ask is strictly better (lower) than ours, or when the bid
    moved up so that the attempt's own price rule (best bid + cushion, never crossing) now gives
    a higher price. A buy mirrors it. An empty side never displaces (nothing better to do).
    ``chase_undercuts`` False: only the second reason counts (the order is only ever re-priced
    toward a better price for us, never after a market that moved away from it).
    """
    if side is Side.SELL:
        if chase_undercuts and book.asks and book.best_ask < resting_price:
            return True
        return bool(book.bids) and maker_price(book, side, cushion_ticks, product) > resting_price
    if chase_undercuts and book.bids and book.best_bid > resting_price:
        return True
    return bool(book.asks) and maker_price(book, side, cushion_ticks, product) < resting_price


def displacement(side: Side, resting_price: Decimal, cushion_ticks: int, product: Product) -> BookCondition:
    """The touch at which :func:`displaced` can first say yes, for a venue to wake the loop on: a
    sell is displaced by an ask below it, or by a bid above ``resting_price - cushion`` (from
    there best bid + cushion prices higher); a buy mirrors it. Only a wake-up: ``displaced``
    decides on the book read then."""
    step = cushion_ticks * product.price_increment
    if side is Side.SELL:
        return BookCondition(best_ask_below=resting_price, best_bid_above=resting_price - step)
    return BookCondition(best_ask_below=resting_price + step, best_bid_above=resting_price)
