"""The balance sheet: available and on hold per currency, from one read, on every implementation.

What the bot believes it holds is ``available + hold`` from this one read (Coinbase's accounts
report both); a resting order moves its size from available to hold and changes no total.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from exchange_venues import PRODUCT_ID, Venue, post_only_sell, ticks

from makerfirst.adapters.ccxt_exchange.capabilities import PayloadDialect
from makerfirst.adapters.ccxt_exchange.parsing import balance_sheet_of
from makerfirst.domain.balances import Balance
from makerfirst.domain.orders import OrderAccepted

D = Decimal


@pytest.mark.anyio
async def test_a_resting_sell_moves_its_size_to_hold_and_keeps_the_total(venue: Venue) -> None:
    before = await venue.exchange.get_balance_sheet()
    assert before["PENGU"] == Balance(venue.balances["PENGU"], D(0))
    book = await venue.exchange.get_order_book(PRODUCT_ID)
    command = post_only_sell("sheet-1", book.best_ask + ticks(20), "250", venue.clock.now() + 30)
    assert isinstance(await venue.exchange.place_order(command), OrderAccepted)
    after = await venue.exchange.get_balance_sheet()
    assert after["PENGU"] == Balance(venue.balances["PENGU"] - 250, D(250))
    assert after["PENGU"].total == venue.balances["PENGU"]
    assert after["USD"].total == venue.balances["USD"]


def test_coinbase_accounts_give_available_and_hold_exactly() -> None:
    raw = {
        "info": {
            "accounts": [
                {
                    "currency": "PENGU",
                    "available_balance": {"value": "1116.00000001", "currency": "PENGU"},
                    "hold": {"value": "250", "currency": "PENGU"},
                },
                {"currency": "USD", "available_balance": {"value": "10.5", "currency": "USD"}},
            ]
        }
    }
    sheet = balance_sheet_of(raw, PayloadDialect.COINBASE_ADVANCED)
    assert sheet == {"PENGU": Balance(D("1116.00000001"), D(250)), "USD": Balance(D("10.5"), D(0))}
    assert sheet["PENGU"].total == D("1366.00000001")


def test_unified_balances_give_free_and_used() -> None:
    raw = {"free": {"BTC": "0.5", "EUR": "12"}, "used": {"BTC": "0.25"}, "total": {"BTC": "0.75"}}
    sheet = balance_sheet_of(raw, PayloadDialect.UNIFIED)
    assert sheet == {"BTC": Balance(D("0.5"), D("0.25")), "EUR": Balance(D(12), D(0))}
