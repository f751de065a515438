"""``OrderBook.without``: the book less our own resting order, as the rest of the market stands."""

from __future__ import annotations

from decimal import Decimal

from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.orders import Side

D = Decimal
BOOK = OrderBook(
    "PENGU-USD",
    (Level(D("0.014500"), D(500)), Level(D("0.014490"), D(900))),
    (Level(D("0.014510"), D(1116)), Level(D("0.014530"), D(3000))),
    0.0,
)


def test_our_order_alone_at_its_price_takes_its_level_with_it() -> None:
    rest = BOOK.without(Side.SELL, D("0.014510"), D(1116))
    assert rest.best_ask == D("0.014530") and rest.bids == BOOK.bids


def test_sharing_a_level_leaves_the_others_size_and_a_missing_price_changes_nothing() -> None:
    shared = BOOK.without(Side.SELL, D("0.014530"), D(1000))
    assert shared.asks[1] == Level(D("0.014530"), D(2000)) and shared.asks[0] == BOOK.asks[0]
    assert BOOK.without(Side.BUY, D("0.014495"), D(10)) == BOOK
    assert BOOK.without(Side.BUY, D("0.014500"), D(500)).best_bid == D("0.014490")
