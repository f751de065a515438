"""Maker and taker prices: on the tick, never crossing, never beyond the cap."""

from __future__ import annotations

from decimal import Decimal

from makerfirst.algorithms.pricing import maker_price, taker_limit_price
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.orders import Side
from simkit import PENGU

D = Decimal
BOOK = OrderBook(
    "PENGU-USD",
    bids=(Level(D("0.014505"), D("5000")),),
    asks=(Level(D("0.014530"), D("5000")),),
    timestamp=0.0,
)


def test_sell_rests_at_best_bid_plus_cushion_ticks() -> None:
    assert maker_price(BOOK, Side.SELL, 1, PENGU) == D("0.014506")
    assert maker_price(BOOK, Side.SELL, 3, PENGU) == D("0.014508")


def test_buy_rests_at_best_ask_minus_cushion_ticks() -> None:
    assert maker_price(BOOK, Side.BUY, 1, PENGU) == D("0.014529")


def test_taker_sell_limit_is_the_cap_below_the_bid_rounded_up() -> None:
    # 0.014505 × 0.99 = 0.01435995 → 0.014360 (rounded towards the bid keeps the cap hard)
    assert taker_limit_price(BOOK, Side.SELL, 100, PENGU) == D("0.014360")
    assert taker_limit_price(BOOK, Side.SELL, 50, PENGU) == D("0.014433")


def test_taker_buy_limit_is_the_cap_above_the_ask_rounded_down() -> None:
    assert taker_limit_price(BOOK, Side.BUY, 100, PENGU) == D("0.014675")
