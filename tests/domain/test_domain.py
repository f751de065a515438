"""Domain rules: exact money, product increments, the order lifecycle table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makerfirst.domain.book import EmptyBookError, Level, OrderBook
from makerfirst.domain.lifecycle import ALLOWED_TRANSITIONS, IllegalTransitionError, transition
from makerfirst.domain.money import plain, usd
from makerfirst.domain.orders import TERMINAL_STATUSES, OrderStatus, Side
from simkit import PENGU

D = Decimal
S = OrderStatus


def test_money_renders_without_exponents() -> None:
    assert plain(D("1E-7")) == "0.0000001"
    assert plain(D("16.1800")) == "16.18"
    assert plain(D("0")) == "0"
    assert usd(D("16.185")) == "$16.18"


@given(st.decimals(min_value=0, max_value=10**9, places=9, allow_nan=False, allow_infinity=False))
def test_size_floor_never_rounds_up_and_lands_on_the_lot(size: Decimal) -> None:
    floored = PENGU.size_floor(size)
    assert floored <= size and PENGU.on_lot(floored) and size - floored < PENGU.base_increment


def test_min_order_size_meets_both_minimums() -> None:
    size = PENGU.min_order_size(D("0.0145"))
    assert size == D(69)  # 69 × 0.0145 = $1.0005 ≥ $1, 68 would be $0.986
    assert PENGU.is_orderable(size, D("0.0145")) and not PENGU.is_orderable(size - 1, D("0.0145"))


def test_product_refuses_a_zero_increment() -> None:
    with pytest.raises(ValueError, match="price_increment"):
        PENGU.__class__(**{**{f: getattr(PENGU, f) for f in PENGU.__slots__}, "price_increment": D(0)})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.PENDING, S.OPEN),
        (S.QUEUED, S.OPEN),
        (S.OPEN, S.CANCEL_QUEUED),
        (S.CANCEL_QUEUED, S.FILLED),  # a fill can win the race against a queued cancel
        (S.CANCEL_QUEUED, S.CANCELLED),
        (S.OPEN, S.EXPIRED),
        (S.OPEN, S.OPEN),
    ],
)
def test_legal_transitions(current: OrderStatus, new: OrderStatus) -> None:
    assert transition(current, new) is new


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
@pytest.mark.parametrize("new", [S.OPEN, S.PENDING, S.CANCEL_QUEUED])
def test_terminal_statuses_never_reopen(terminal: OrderStatus, new: OrderStatus) -> None:
    with pytest.raises(IllegalTransitionError):
        transition(terminal, new)


def test_every_status_has_a_row_and_terminal_rows_are_empty() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus)
    assert all(not ALLOWED_TRANSITIONS[s] for s in TERMINAL_STATUSES)


def test_book_measures_spread_depth_and_proceeds() -> None:
    book = OrderBook(
        "X-USD",
        bids=(Level(D("0.99"), D("10")), Level(D("0.98"), D("10"))),
        asks=(Level(D("1.01"), D("10")),),
        timestamp=0.0,
    )
    assert book.mid == D(1) and book.spread_bps == D(200)
    assert book.depth_usd(Side.BUY, D(150)) == D("9.9")
    assert book.sell_proceeds(D(15)) == (D(15), D("9.9") + D("4.90"))
    with pytest.raises(EmptyBookError):
        _ = OrderBook("X-USD", (), (), 0.0).best_bid
