"""ccxt's async ``coinbase`` client against the sim server, as the bot's adapter will drive it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.errors import (
    BadRequest,
    ExchangeError,
    InsufficientFunds,
    OrderImmediatelyFillable,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from makerfirst.adapters.sim_server.auth import Credentials
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

SYMBOL = "PENGU/USD"
GTD = {"postOnly": True, "timeInForce": "GTD", "end_time": "2030-01-01T00:00:00Z"}
TICK = Decimal("0.000001")


# The construction coinbase-advanced-api.md §7.2 recommends: no /v2 currency calls in
# load_markets, balances from the v3 accounts (with holds).
NOTES_CONFIG: dict[str, Any] = {
    "has": {"fetchCurrencies": False},
    "options": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
}


def client(server: ServerHandle, config: dict[str, Any]) -> ccxt_async.coinbase:
    return ccxt_async.coinbase(
        {
            "apiKey": server.key_name,
            "secret": server.private_key_pem,
            "urls": {"api": {"rest": server.url}},
            # The server enforces Coinbase's limits; ccxt's own pacing would only slow the tests.
            "enableRateLimit": False,
            **config,
        }
    )


def with_ccxt(
    server: ServerHandle,
    scenario: Callable[[ccxt_async.coinbase], Awaitable[None]],
    config: dict[str, Any] = NOTES_CONFIG,
) -> None:
    async def run() -> None:
        exchange = client(server, config)
        try:
            await scenario(exchange)
        finally:
            await exchange.close()

    asyncio.run(run())


def test_the_bot_s_calls_through_ccxt_with_its_default_configuration() -> None:
    async def scenario(ex: ccxt_async.coinbase) -> None:
        markets = await ex.load_markets()  # /v2 currencies + rates, market/products, transaction_summary
        pengu = markets[SYMBOL]
        assert (pengu["precision"]["amount"], pengu["precision"]["price"]) == (1.0, 1e-06)
        assert pengu["limits"]["cost"]["min"] == 1.0 and pengu["active"] is True
        assert (pengu["maker"], pengu["taker"]) == (0.006, 0.012)

        book = await ex.fetch_order_book(SYMBOL, 5)
        best_bid, best_ask = Decimal(str(book["bids"][0][0])), Decimal(str(book["asks"][0][0]))
        assert best_bid < best_ask and len(book["bids"]) == 5

        legacy = await ex.fetch_balance()  # ccxt's default: GET /v2/accounts
        assert legacy["PENGU"]["total"] == 5000.0

        price = float(best_ask + 40 * TICK)
        created = await ex.create_order(
            SYMBOL, "limit", "sell", 1000, price, {**GTD, "client_order_id": "bot-1"}
        )
        assert created["clientOrderId"] == "bot-1" and created["status"] is None
        order = await ex.fetch_order(created["id"], SYMBOL)
        assert (order["status"], order["side"], order["amount"], order["price"]) == (
            "open",
            "sell",
            1000.0,
            price,
        )
        assert (order["timeInForce"], order["postOnly"], order["filled"]) == ("GTD", True, 0.0)
        assert [o["id"] for o in await ex.fetch_open_orders(SYMBOL)] == [created["id"]]

        balance = await ex.fetch_balance({"v3": True})
        assert (balance["PENGU"]["free"], balance["PENGU"]["used"]) == (4000.0, 1000.0)

        await ex.cancel_order(created["id"], SYMBOL)  # POST /orders/batch_cancel
        after = await ex.fetch_order(created["id"], SYMBOL)
        assert after["status"] in ("CANCEL_QUEUED", "canceled")  # ccxt passes CANCEL_QUEUED through raw

        taken = await ex.create_order(SYMBOL, "limit", "sell", 200, float(best_bid), {"timeInForce": "IOC"})
        ioc = await ex.fetch_order(taken["id"], SYMBOL)
        assert (ioc["status"], ioc["filled"], ioc["timeInForce"]) == ("closed", 200.0, "IOC")
        assert ioc["info"]["order_configuration"] == {
            "sor_limit_ioc": {"base_size": "200", "limit_price": str(best_bid)}
        }

        trades = await ex.fetch_my_trades(SYMBOL)
        assert [(t["order"], t["side"], t["takerOrMaker"], t["amount"]) for t in trades] == [
            (taken["id"], "sell", "taker", 200.0)
        ]
        assert trades[0]["fee"]["currency"] == "USD"

    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
        with_ccxt(server, scenario, config={})
        audit = server.audit()
    assert audit["orders"][0]["client_order_id"] == "bot-1"
    assert len(audit["orders"]) == 2 and len(audit["fills"]) == 1


def test_a_crossing_post_only_raises_what_the_api_notes_say_with_all_three_fields() -> None:
    async def scenario(ex: ccxt_async.coinbase) -> None:
        book = await ex.fetch_order_book(SYMBOL, 1)
        bid = book["bids"][0][0]
        with pytest.raises(ExchangeError) as raised:
            await ex.create_order(SYMBOL, "limit", "sell", 100, bid, GTD)
        assert type(raised.value) is ExchangeError  # ccxt has no mapping of its own (§7.4)
        body = json.loads(str(raised.value).removeprefix("coinbase "))
        assert body["success"] is False
        assert body["error_response"]["error"] == "INVALID_LIMIT_PRICE_POST_ONLY"
        assert body["error_response"]["new_order_failure_reason"] == "INVALID_LIMIT_PRICE_POST_ONLY"
        assert body["error_response"]["preview_failure_reason"] == "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"

        ex.exceptions["exact"]["PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"] = OrderImmediatelyFillable
        with pytest.raises(OrderImmediatelyFillable):
            await ex.create_order(SYMBOL, "limit", "sell", 100, bid, GTD)
        with pytest.raises(InsufficientFunds):
            await ex.create_order(SYMBOL, "limit", "sell", 99999, bid * 2, GTD)

    with running_server(balances={"PENGU": "5000"}) as server:
        with_ccxt(server, scenario)
        assert server.audit()["orders"] == []


def test_ccxt_sees_unknown_orders_and_failed_cancels_as_the_notes_say() -> None:
    async def scenario(ex: ccxt_async.coinbase) -> None:
        with pytest.raises(ExchangeError, match="not found"):
            await ex.fetch_order("no-such-order", SYMBOL)
        book = await ex.fetch_order_book(SYMBOL, 1)
        filled = await ex.create_order(
            SYMBOL, "limit", "sell", 100, book["bids"][0][0], {"timeInForce": "IOC"}
        )
        with pytest.raises(BadRequest, match="cancelOrders"):
            await ex.cancel_order(filled["id"], SYMBOL)

    with running_server(balances={"PENGU": "5000"}) as server:
        with_ccxt(server, scenario)


def test_ccxt_configured_as_in_the_notes_reads_v3_balances_and_fees() -> None:
    async def scenario(ex: ccxt_async.coinbase) -> None:
        await ex.load_markets()
        balance = await ex.fetch_balance()  # v3 accounts, with holds
        assert balance["ZK"]["free"] == 12.5
        fees = await ex.fetch_trading_fees()
        assert fees[SYMBOL]["maker"] == 0.006

    with running_server(balances={"ZK": "12.5"}) as server:
        with_ccxt(server, scenario)


def test_ccxt_signs_with_an_ed25519_key_too() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ) + key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    credentials = Credentials("organizations/ed/apiKeys/ed", base64.b64encode(raw).decode())

    async def scenario(ex: ccxt_async.coinbase) -> None:
        balance = await ex.fetch_balance()
        assert balance["USD"]["free"] == 7.0

    with running_server(balances={"USD": "7"}, credentials=credentials) as server:
        with_ccxt(server, scenario)
