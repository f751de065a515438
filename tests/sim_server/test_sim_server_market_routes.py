"""The REST routes real clients call beyond the bot's own: market/FOK orders, ticker, trades, candles."""

from __future__ import annotations

import decimal
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from test_sim_server_ccxt import with_ccxt

from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

B = "/api/v3/brokerage"


@pytest.fixture(autouse=True)
def _decimal_context_kept() -> Iterator[None]:
    """ccxt's precision helpers (market orders, cost) retune the shared decimal context in place;
    used raw here, outside our adapter, it must not leak into later tests."""
    saved = decimal.getcontext().copy()
    yield
    decimal.setcontext(saved)


def _wait_for_trades(server: ServerHandle, product_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with server.session() as exchange:
            if sum(t.product_id == product_id for t in exchange.trades_since(0)) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} {product_id} trades in 10 s")


def _create(server: ServerHandle, body: dict[str, Any]) -> dict[str, Any]:
    path = f"{B}/orders"
    answer: dict[str, Any] = httpx.post(
        f"{server.url}{path}", json=body, headers=server.auth_header("POST", path)
    ).json()
    return answer


def _order(server: ServerHandle, order_id: str) -> dict[str, Any]:
    path = f"{B}/orders/historical/{order_id}"
    answer: dict[str, Any] = httpx.get(f"{server.url}{path}", headers=server.auth_header("GET", path)).json()[
        "order"
    ]
    return answer


def test_ccxt_fetches_ticker_trades_and_ohlcv_from_the_tape() -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server:
        _wait_for_trades(server, "BTC-USD", 5)

        async def scenario(ex: ccxt_async.coinbase) -> None:
            ticker = await ex.fetch_ticker("BTC/USD")
            trades = await ex.fetch_trades("BTC/USD", limit=3)
            candles = await ex.fetch_ohlcv("BTC/USD", "1m", limit=5)
            with server.session() as exchange:
                book = exchange.book_now("BTC-USD", 1)
                tape = [t for t in exchange.trades_since(0) if t.product_id == "BTC-USD"]
            assert ticker["bid"] is not None and ticker["ask"] is not None
            assert ticker["bid"] < ticker["ask"]
            assert abs(Decimal(str(ticker["bid"])) - book.bids[0].price) < Decimal(50)
            assert ticker["last"] is not None
            assert len(trades) == 3
            assert all(t["side"] in ("buy", "sell") and t["amount"] > 0 for t in trades)
            assert {t["id"] for t in trades} <= {str(t.number) for t in tape}
            assert candles, "a minute with trades has a candle"
            ts, o, h, low, c, v = candles[-1]
            assert low <= min(o, c) <= max(o, c) <= h and v > 0
            assert ts % 60_000 == 0

        with_ccxt(server, scenario)


def test_ccxt_market_sell_and_market_buy_fill_at_once() -> None:
    with running_server(market="liquid", balances={"BTC": "1", "USD": "10000"}) as server:

        async def scenario(ex: ccxt_async.coinbase) -> None:
            await ex.load_markets()
            sold = await ex.create_order("BTC/USD", "market", "sell", 0.01)
            bought = await ex.create_order("BTC/USD", "market", "buy", None, params={"cost": 500})
            sell = await ex.fetch_order(sold["id"], "BTC/USD")
            buy = await ex.fetch_order(bought["id"], "BTC/USD")
            assert (sell["status"], sell["filled"], sell["type"]) == ("closed", 0.01, "market")
            assert buy["status"] == "closed" and buy["filled"] > 0
            assert buy["timeInForce"] == "IOC"
            assert 490 < buy["cost"] <= 500

        with_ccxt(server, scenario)
        sells = [o for o in server.audit()["orders"] if o["side"] == "SELL"]
        assert len(sells) == 1


def test_a_quote_sized_market_buy_spends_its_quote_size_fee_included() -> None:
    with running_server(market="liquid", balances={"USD": "1000"}) as server:
        created = _create(
            server,
            {
                "client_order_id": "mkt-q",
                "product_id": "ETH-USD",
                "side": "BUY",
                "order_configuration": {"market_market_ioc": {"quote_size": "100"}},
            },
        )
        order = _order(server, created["success_response"]["order_id"])
        assert (order["status"], order["order_type"], order["time_in_force"]) == (
            "FILLED",
            "MARKET",
            "IMMEDIATE_OR_CANCEL",
        )
        assert order["size_in_quote"] is True and order["size_inclusive_of_fees"] is True
        assert Decimal("99") < Decimal(order["total_value_after_fees"]) <= Decimal("100")


def test_fill_or_kill_fills_whole_or_is_cancelled_with_nothing_filled() -> None:
    with running_server(market="dead", balances={"USD": "100000"}) as server:
        with server.session() as exchange:
            asks = exchange.book_now("ZK-USD", 1_000).asks
        best = asks[0]
        whole = _create(
            server,
            {
                "client_order_id": "fok-1",
                "product_id": "ZK-USD",
                "side": "BUY",
                "order_configuration": {
                    "limit_limit_fok": {"base_size": str(best.size), "limit_price": str(best.price)}
                },
            },
        )
        too_big = str(best.size + asks[1].size)
        killed = _create(
            server,
            {
                "client_order_id": "fok-2",
                "product_id": "ZK-USD",
                "side": "BUY",
                "order_configuration": {
                    "limit_limit_fok": {"base_size": too_big, "limit_price": str(best.price)}
                },
            },
        )
        assert whole["success"] and killed["success"], (whole, killed)
        filled, cancelled = (_order(server, c["success_response"]["order_id"]) for c in (whole, killed))
        assert (filled["status"], filled["filled_size"]) == ("FILLED", str(best.size).rstrip("0").rstrip("."))
        assert (cancelled["status"], cancelled["filled_size"]) == ("CANCELLED", "0")
        assert cancelled["time_in_force"] == "FILL_OR_KILL"


def test_a_market_order_with_both_sizes_or_no_book_is_refused() -> None:
    with running_server(market="dead", balances={"USD": "1000"}) as server:
        both = _create(
            server,
            {
                "client_order_id": "bad-1",
                "product_id": "ZK-USD",
                "side": "BUY",
                "order_configuration": {"market_market_ioc": {"quote_size": "10", "base_size": "1"}},
            },
        )
        assert both["success"] is False
        assert both["error_response"]["error"] == "UNSUPPORTED_ORDER_CONFIGURATION"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("granularity=ONE_WEEK&start=0&end=60", "granularity"),
        ("granularity=ONE_MINUTE&start=0", "start and end"),
        ("granularity=ONE_MINUTE&start=0&end=60000", "350"),
    ],
)
def test_bad_candle_queries_are_400_naming_the_parameter(query: str, message: str) -> None:
    with running_server(balances={"USD": "1"}) as server:
        answer = httpx.get(f"{server.url}{B}/market/products/ZK-USD/candles?{query}")
        assert answer.status_code == 400
        assert message in answer.json()["message"]
        unknown = httpx.get(f"{server.url}{B}/market/products/NOPE-USD/ticker?limit=1")
        assert unknown.status_code == 400


def _post(server: ServerHandle, route: str, body: dict[str, Any]) -> dict[str, Any]:
    path = f"{B}/orders/{route}"
    answer: dict[str, Any] = httpx.post(
        f"{server.url}{path}", json=body, headers=server.auth_header("POST", path)
    ).json()
    return answer


def _gtc(side: str, size: str, price: Decimal) -> dict[str, Any]:
    config = {"limit_limit_gtc": {"base_size": size, "limit_price": str(price), "post_only": True}}
    return {"product_id": "ZK-USD", "side": side, "order_configuration": config}


def test_a_preview_prices_the_order_and_names_what_a_create_would_refuse() -> None:
    with running_server(market="dead", balances={"ZK": "1000", "USD": "5"}) as server:
        with server.session() as exchange:
            book = exchange.book_now("ZK-USD", 1)
        resting = _post(server, "preview", _gtc("SELL", "100", book.asks[0].price))
        assert resting["errs"] == [] and resting["preview_id"]
        value = Decimal(100) * book.asks[0].price
        assert Decimal(resting["commission_total"]) == value * Decimal("0.006")
        assert Decimal(resting["order_total"]) == value - value * Decimal("0.006")
        crossing = _post(server, "preview", _gtc("SELL", "100", book.bids[0].price))
        assert crossing["errs"] == ["PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"]
        broke = _post(server, "preview", _gtc("BUY", "1000", book.bids[0].price))
        assert broke["errs"] == ["PREVIEW_INSUFFICIENT_FUND"]
        assert server.audit()["orders"] == []  # previews create nothing


def test_an_edit_moves_a_resting_gtc_order_and_refuses_what_it_cannot_do() -> None:
    with running_server(market="dead", balances={"ZK": "1000", "USD": "5"}) as server:
        with server.session() as exchange:
            book = exchange.book_now("ZK-USD", 1)
            engine = exchange.engine("ZK-USD")  # the matching book, where our order rests
        created = _create(server, {"client_order_id": "edit-1", **_gtc("SELL", "100", book.asks[0].price)})
        order_id = created["success_response"]["order_id"]
        higher = book.asks[0].price + Decimal("0.001")
        assert _post(server, "edit", {"order_id": order_id, "price": str(higher), "size": "60"}) == {
            "success": True,
            "errors": [],
        }
        order = _order(server, order_id)
        assert order["order_configuration"]["limit_limit_gtc"]["limit_price"] == str(higher)
        assert (order["status"], order["outstanding_hold_amount"]) == ("OPEN", "60")
        with server.session() as exchange:
            assert exchange.held() == {"ZK": Decimal(60)}
            assert engine.resting(order_id) is not None
        into_bids = str(book.bids[0].price)
        crossing = _post(server, "edit", {"order_id": order_id, "price": into_bids, "size": "60"})
        assert crossing["errors"][0]["preview_failure_reason"] == "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"
        too_big = _post(server, "edit", {"order_id": order_id, "price": str(higher), "size": "5000"})
        assert too_big["errors"][0]["preview_failure_reason"] == "PREVIEW_INSUFFICIENT_FUND"
        unknown = _post(server, "edit", {"order_id": "nope", "price": "1", "size": "1"})
        assert unknown["errors"][0]["edit_failure_reason"] == "ORDER_NOT_FOUND"
        assert _order(server, order_id)["order_configuration"]["limit_limit_gtc"]["base_size"] == "60"
