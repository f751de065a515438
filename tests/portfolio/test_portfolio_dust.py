"""Dust: each reason, and an entry is not retried until the holding, the price or the rules change."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from makerfirst.domain.product import Product
from makerfirst.portfolio.dust import DustEntry, DustReason, ProductRules, dust_reason, still_dust

D = Decimal
ZK = Product(
    product_id="ZK-USD",
    base_currency="ZK",
    quote_currency="USD",
    price_increment=D("0.0001"),
    base_increment=D("1"),
    base_min_size=D("10"),
    quote_min_size=D("5"),
)
DISABLED = replace(ZK, trading_disabled=True)


@pytest.mark.parametrize(
    ("size", "product", "bid", "expected"),
    [
        ("100", ZK, "0.5", None),  # $50: sellable
        ("100", None, "0.5", DustReason.NO_MARKET),
        ("100", DISABLED, "0.5", DustReason.TRADING_DISABLED),
        ("9", ZK, "100", DustReason.BELOW_MIN_SIZE),  # worth $900, but below 10 ZK
        ("0.7", ZK, "100", DustReason.BELOW_MIN_SIZE),  # not even one lot
        ("10.9", ZK, "0.4", DustReason.BELOW_MIN_NOTIONAL),  # 10 ZK on the grid = $4 < $5
        ("12.9", ZK, "0.4", DustReason.BELOW_MIN_NOTIONAL),  # the 12 ZK an order can take = $4.80
        ("13", ZK, "0.4", None),  # $5.20
    ],
)
def test_dust_reasons(size: str, product: Product | None, bid: str, expected: DustReason | None) -> None:
    assert dust_reason(D(size), product, D(bid)) is expected


def test_without_a_bid_only_the_notional_cannot_be_judged() -> None:
    assert dust_reason(D(100), ZK, None) is None
    assert dust_reason(D(5), ZK, None) is DustReason.BELOW_MIN_SIZE
    assert dust_reason(D(100), None, None) is DustReason.NO_MARKET


def entry(size: str, product: Product | None, bid: str | None, reason: DustReason) -> DustEntry:
    return DustEntry.record(
        "ZK", reason, D(size), product=product, price=None if bid is None else D(bid), now=1_000.0
    )


BELOW_NOTIONAL = entry("10", ZK, "0.4", DustReason.BELOW_MIN_NOTIONAL)  # $4 < $5


@pytest.mark.parametrize(
    ("recorded", "size", "product", "bid", "retry"),
    [
        # Nothing changed (or the price moved but not enough): stays set aside.
        (BELOW_NOTIONAL, "10", ZK, "0.4", False),
        (BELOW_NOTIONAL, "10", ZK, "0.49", False),
        # The holding shrank: it can only be less sellable.
        (BELOW_NOTIONAL, "9", ZK, "0.4", False),
        # The holding grew.
        (BELOW_NOTIONAL, "11", ZK, "0.4", True),
        # Its value at the current bid passed the minimum notional.
        (BELOW_NOTIONAL, "10", ZK, "0.5", True),
        # The product's rules changed.
        (BELOW_NOTIONAL, "10", replace(ZK, quote_min_size=D(1)), "0.4", True),
        (BELOW_NOTIONAL, "10", replace(ZK, base_increment=D("0.1")), "0.4", True),
        (BELOW_NOTIONAL, "10", DISABLED, "0.4", True),
        # The market vanished.
        (BELOW_NOTIONAL, "10", None, None, True),
        # No bids: nothing to judge the notional by, so nothing has changed.
        (BELOW_NOTIONAL, "10", ZK, None, False),
        # Below the minimum size: a higher price changes nothing.
        (entry("9", ZK, "0.5", DustReason.BELOW_MIN_SIZE), "9", ZK, "1000", False),
        (entry("9", ZK, "0.5", DustReason.BELOW_MIN_SIZE), "9", replace(ZK, base_min_size=D(5)), "1", True),
        # Trading disabled: retried once the flag is lifted, not before.
        (entry("100", DISABLED, "0.5", DustReason.TRADING_DISABLED), "100", DISABLED, "0.5", False),
        (entry("100", DISABLED, "0.5", DustReason.TRADING_DISABLED), "100", ZK, "0.5", True),
        # No market: retried once one appears.
        (entry("100", None, None, DustReason.NO_MARKET), "100", None, None, False),
        (entry("100", None, None, DustReason.NO_MARKET), "100", ZK, "0.5", True),
    ],
)
def test_an_entry_is_retried_only_when_something_changed(
    recorded: DustEntry, size: str, product: Product | None, bid: str | None, retry: bool
) -> None:
    assert still_dust(recorded, D(size), product, None if bid is None else D(bid)) is not retry


def test_an_entry_keeps_the_value_and_rules_it_was_recorded_with() -> None:
    assert BELOW_NOTIONAL.value == D("4.0")
    assert BELOW_NOTIONAL.rules == ProductRules(D(1), D(10), D(5), trading_disabled=False)
    assert entry("100", None, None, DustReason.NO_MARKET).value is None
