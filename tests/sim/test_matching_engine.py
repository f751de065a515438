"""The matching engine: price-time priority and queue position, in ticks and lots."""

from __future__ import annotations

from makerfirst.adapters.sim.matching import MatchingEngine
from makerfirst.domain.orders import Side


def test_best_prices_follow_resting_orders() -> None:
    book = MatchingEngine()
    book.submit("b1", Side.BUY, 100, 5, ours=False, rest=True)
    book.submit("b2", Side.BUY, 101, 5, ours=False, rest=True)
    book.submit("a1", Side.SELL, 105, 5, ours=False, rest=True)
    assert (book.best_bid(), book.best_ask()) == (101, 105)
    assert book.levels(Side.BUY, 5) == [(101, 5), (100, 5)]


def test_orders_at_one_price_fill_in_arrival_order() -> None:
    book = MatchingEngine()
    book.submit("first", Side.SELL, 105, 3, ours=False, rest=True)
    book.submit("ours", Side.SELL, 105, 2, ours=True, rest=True)
    assert book.queue_ahead("ours") == 3
    matches = book.submit("taker", Side.BUY, None, 4, ours=False, rest=False)
    assert [(m.maker_order_id, m.lots) for m in matches] == [("first", 3), ("ours", 1)]
    assert book.resting("ours") is not None and book.resting("ours").remaining == 1  # type: ignore[union-attr]


def test_better_price_fills_before_earlier_worse_price() -> None:
    book = MatchingEngine()
    book.submit("early", Side.SELL, 106, 5, ours=False, rest=True)
    book.submit("late", Side.SELL, 105, 5, ours=False, rest=True)
    matches = book.submit("taker", Side.BUY, None, 6, ours=False, rest=False)
    assert [(m.maker_order_id, m.price, m.lots) for m in matches] == [("late", 105, 5), ("early", 106, 1)]


def test_limit_order_stops_at_its_price_and_rests_the_rest() -> None:
    book = MatchingEngine()
    book.submit("a1", Side.SELL, 105, 2, ours=False, rest=True)
    book.submit("a2", Side.SELL, 107, 2, ours=False, rest=True)
    matches = book.submit("b", Side.BUY, 106, 5, ours=False, rest=True)
    assert sum(m.lots for m in matches) == 2
    assert book.best_bid() == 106 and book.best_ask() == 107


def test_ioc_never_rests() -> None:
    book = MatchingEngine()
    book.submit("bid", Side.BUY, 100, 2, ours=False, rest=True)
    matches = book.submit("ioc", Side.SELL, 99, 5, ours=True, rest=False)
    assert sum(m.lots for m in matches) == 2
    assert book.resting("ioc") is None and book.best_bid() is None


def test_cancel_removes_the_order_and_empty_levels() -> None:
    book = MatchingEngine()
    book.submit("a", Side.SELL, 105, 2, ours=True, rest=True)
    assert book.cancel("a") == 2
    assert book.cancel("a") is None
    assert book.best_ask() is None


def test_would_cross_is_the_post_only_test() -> None:
    book = MatchingEngine()
    book.submit("bid", Side.BUY, 100, 1, ours=False, rest=True)
    book.submit("ask", Side.SELL, 103, 1, ours=False, rest=True)
    assert book.would_cross(Side.SELL, 100) and not book.would_cross(Side.SELL, 101)
    assert book.would_cross(Side.BUY, 103) and not book.would_cross(Side.BUY, 102)
