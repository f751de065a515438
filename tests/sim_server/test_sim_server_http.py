"""The sim server over raw HTTP: Coinbase's routes, bodies, auth, limits and the audit."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from makerfirst.adapters.sim_server import RateLimits, wire
from makerfirst.adapters.sim_server.auth import (
    Credentials,
    CredentialsError,
    generate_credentials,
    load_credentials,
)
from makerfirst.adapters.sim_server.ratelimit import TokenBucket
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.clock import SystemClock, VirtualClock
from makerfirst.domain.product import Product

B = "/api/v3/brokerage"
FUTURE = "2030-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    """One server for the read-mostly tests; each test uses its own client order ids."""
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as handle:
        yield handle


def call(
    server: ServerHandle,
    method: str,
    path: str,
    *,
    params: Any = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    auth = server.auth_header(method, path) if headers is None else headers
    return httpx.request(method, server.url + path, params=params, json=body, headers=auth, timeout=5)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def touch(server: ServerHandle) -> tuple[str, str]:
    """(best bid, best ask) of PENGU-USD as the API shows them."""
    book = ok(call(server, "GET", f"{B}/product_book", params={"product_id": "PENGU-USD", "limit": 1}))
    return book["pricebook"]["bids"][0]["price"], book["pricebook"]["asks"][0]["price"]


def above(price: str, ticks: int) -> str:
    return str(Decimal(price) + ticks * Decimal("0.000001"))


def order_body(
    cid: str, config: dict[str, Any], side: str = "SELL", product: str = "PENGU-USD"
) -> dict[str, Any]:
    return {"client_order_id": cid, "product_id": product, "side": side, "order_configuration": config}


def gtd(size: str, price: str, end: str = FUTURE, post_only: Any = True) -> dict[str, Any]:
    return {
        "limit_limit_gtd": {"base_size": size, "limit_price": price, "end_time": end, "post_only": post_only}
    }


def ioc(size: str, price: str) -> dict[str, Any]:
    return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}


def create(server: ServerHandle, cid: str, config: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return ok(call(server, "POST", f"{B}/orders", body=order_body(cid, config, **kw)))


def money_strings(value: Any) -> Iterator[str]:
    """Every decimal-looking leaf of a JSON value (numbers included, so a float would show)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from money_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from money_strings(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield repr(value)


# -- orders ------------------------------------------------------------------------------------------
def test_a_resting_post_only_sell_is_open_with_the_full_order_object(server: ServerHandle) -> None:
    _, ask = touch(server)
    price = above(ask, 50)
    created = create(server, "rest-1", gtd("1000", price))
    assert created["success"] is True and created["success_response"]["client_order_id"] == "rest-1"
    assert created["order_configuration"] == gtd("1000", price)
    order = ok(call(server, "GET", f"{B}/orders/historical/{created['order_id']}"))["order"]
    assert order["status"] == "OPEN" and order["time_in_force"] == "GOOD_UNTIL_DATE_TIME"
    assert order["order_type"] == "LIMIT" and order["side"] == "SELL" and order["product_id"] == "PENGU-USD"
    assert order["filled_size"] == "0" and order["average_filled_price"] == "0"
    assert order["outstanding_hold_amount"] == "1000" and order["pending_cancel"] is False
    assert order["order_configuration"] == gtd("1000", price)
    assert order["created_time"].endswith("Z") and order["last_fill_time"] is None
    assert list(money_strings(order)) == []  # money is strings, never JSON numbers


def test_a_post_only_gtc_rests_until_cancelled(server: ServerHandle) -> None:
    _, ask = touch(server)
    config = {"limit_limit_gtc": {"base_size": "100", "limit_price": above(ask, 60), "post_only": True}}
    order_id = create(server, "gtc-1", config)["order_id"]
    order = ok(call(server, "GET", f"{B}/orders/historical/{order_id}"))["order"]
    assert order["status"] == "OPEN" and order["time_in_force"] == "GOOD_UNTIL_CANCELLED"
    assert order["order_configuration"] == config


def test_a_crossing_post_only_is_refused_with_all_three_failure_fields(server: ServerHandle) -> None:
    bid, _ = touch(server)
    answer = create(server, "cross-1", gtd("100", bid))
    assert answer == {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": "INVALID_LIMIT_PRICE_POST_ONLY",
            "message": "Invalid limit price for post-only order",
            "error_details": "Invalid limit price for post-only order",
            "preview_failure_reason": "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
            "new_order_failure_reason": "INVALID_LIMIT_PRICE_POST_ONLY",
        },
        "order_configuration": gtd("100", bid),
    }
    assert all(o["client_order_id"] != "cross-1" for o in server.audit()["orders"])


UNSUPPORTED = ("UNSUPPORTED_ORDER_CONFIGURATION", "PREVIEW_INVALID_ORDER_CONFIG")
UNKNOWN = "UNKNOWN_FAILURE_REASON"
NO_END = {"limit_limit_gtd": {"base_size": "100", "limit_price": "1", "post_only": True}}
REFUSALS: list[tuple[dict[str, Any], str, str, tuple[str, str]]] = [
    # (order_configuration, side, product, (error = new_order_failure_reason, preview_failure_reason))
    (gtd("99999", "1"), "SELL", "PENGU-USD", ("INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND")),
    (gtd("1.5", "1"), "SELL", "PENGU-USD", ("INVALID_SIZE_PRECISION", "PREVIEW_INVALID_SIZE_PRECISION")),
    (gtd("100", "1.0000001"), "SELL", "PENGU-USD",
     ("INVALID_PRICE_PRECISION", "PREVIEW_INVALID_PRICE_PRECISION")),
    (gtd("10", "0.02"), "SELL", "PENGU-USD", (UNKNOWN, "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL")),
    (gtd("600000000", "1"), "SELL", "PENGU-USD", (UNKNOWN, "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE")),
    (gtd("100", "1"), "SELL", "DOGE-USD", ("INVALID_PRODUCT_ID", "PREVIEW_INVALID_PRODUCT_ID")),
    (gtd("100", "1"), "HOLD", "PENGU-USD", ("INVALID_SIDE", "PREVIEW_INVALID_SIDE")),
    (gtd("100", "1", end="2001-01-01T00:00:00Z"), "SELL", "PENGU-USD",
     ("END_TIME_IS_IN_THE_PAST", "PREVIEW_INVALID_END_TIME")),
    (NO_END, "SELL", "PENGU-USD", ("GTD_ORDERS_MUST_HAVE_END_TIME", "PREVIEW_INVALID_END_TIME")),
    # market_market_ioc and limit_limit_fok are served (test_sim_server_market_routes.py); these are not.
    ({"market_market_fok": {"base_size": "100"}}, "SELL", "PENGU-USD", UNSUPPORTED),
    ({"stop_limit_stop_limit_gtc": {"base_size": "100", "limit_price": "1", "stop_price": "1"}},
     "SELL", "PENGU-USD", UNSUPPORTED),
    ({"market_market_ioc": {"base_size": "100", "quote_size": "1"}}, "SELL", "PENGU-USD", UNSUPPORTED),
    ({**gtd("100", "1"), **ioc("100", "1")}, "SELL", "PENGU-USD", UNSUPPORTED),
    ({}, "SELL", "PENGU-USD", UNSUPPORTED),
    (gtd("100", "1", post_only=False), "SELL", "PENGU-USD", UNSUPPORTED),
]  # fmt: skip


@pytest.mark.parametrize(("config", "side", "product", "reasons"), REFUSALS)
def test_a_refused_create_is_http_200_with_consistent_reasons(
    server: ServerHandle, config: dict[str, Any], side: str, product: str, reasons: tuple[str, str]
) -> None:
    error, preview = reasons
    answer = create(server, f"bad-{error}-{preview}-{len(str(config))}", config, side=side, product=product)
    assert answer["success"] is False and answer["order_id"] == ""
    got = answer["error_response"]
    assert (got["error"], got["new_order_failure_reason"], got["preview_failure_reason"]) == (
        error,
        error,
        preview,
    )
    assert answer["order_configuration"] == config


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        [1, 2],
        {"product_id": "PENGU-USD", "side": "SELL", "order_configuration": gtd("1", "1")},  # no client id
        order_body("x-bad-size", gtd("lots", "1")),
        order_body("x-bad-end", gtd("100", "1", end="tomorrow")),
    ],
)
def test_a_malformed_create_is_400_invalid_argument(server: ServerHandle, body: Any) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(
        server.url + f"{B}/orders",
        content=raw,
        headers={**server.auth_header("POST", f"{B}/orders"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_ARGUMENT"


def test_a_reused_client_order_id_returns_the_original_order_and_creates_nothing(
    server: ServerHandle,
) -> None:
    _, ask = touch(server)
    first = create(server, "idem-1", gtd("200", above(ask, 70)))
    again = create(server, "idem-1", gtd("300", above(ask, 80)))
    assert again["success"] is True and again["order_id"] == first["order_id"]
    assert again["order_configuration"] == first["order_configuration"]
    assert [o["client_order_id"] for o in server.audit()["orders"]].count("idem-1") == 1


def test_an_ioc_sell_fills_at_the_bid_as_taker_and_reports_its_fills(server: ServerHandle) -> None:
    bid, _ = touch(server)
    order_id = create(server, "ioc-1", ioc("100", bid))["order_id"]
    order = ok(call(server, "GET", f"{B}/orders/historical/{order_id}"))["order"]
    assert order["status"] == "FILLED" and order["time_in_force"] == "IMMEDIATE_OR_CANCEL"
    assert order["filled_size"] == "100" and order["number_of_fills"] == "1"
    assert order["completion_percentage"] == "100" and order["outstanding_hold_amount"] == "0"
    value = Decimal(order["filled_value"])
    assert Decimal(order["total_fees"]) == value * Decimal("0.012")
    assert Decimal(order["total_value_after_fees"]) == value - value * Decimal("0.012")
    fills = ok(call(server, "GET", f"{B}/orders/historical/fills", params={"order_ids": [order_id]}))["fills"]
    assert [(f["order_id"], f["size"], f["liquidity_indicator"], f["size_in_quote"]) for f in fills] == [
        (order_id, "100", "TAKER", False)
    ]
    assert Decimal(fills[0]["commission"]) == Decimal(order["total_fees"])


def test_an_ioc_beyond_the_book_is_cancelled_unfilled(server: ServerHandle) -> None:
    _, ask = touch(server)
    order_id = create(server, "ioc-none", ioc("100", above(ask, 500)))["order_id"]
    order = ok(call(server, "GET", f"{B}/orders/historical/{order_id}"))["order"]
    assert (order["status"], order["filled_size"]) == ("CANCELLED", "0")


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-01T00:00:00Z",
        "2030-01-01T00:00:00.000000000Z",
        "2030-01-01T01:00:00+01:00",
        "2030-01-01T00:00:00.5Z",
    ],
)
def test_end_times_are_read_as_rfc_3339_up_to_nanoseconds(text: str) -> None:
    assert int(wire.parse_rfc3339(text)) == 1_893_456_000


def test_an_unknown_order_is_404_not_found(server: ServerHandle) -> None:
    response = call(server, "GET", f"{B}/orders/historical/no-such-order")
    assert response.status_code == 404
    assert response.json() == {
        "error": "NOT_FOUND",
        "error_details": "order with this orderID was not found",
        "message": "order with this orderID was not found",
    }


# -- cancels -----------------------------------------------------------------------------------------
def test_batch_cancel_answers_per_order_and_goes_through_cancel_queued(server: ServerHandle) -> None:
    bid, ask = touch(server)
    resting = create(server, "cxl-1", gtd("100", above(ask, 90)))["order_id"]
    filled = create(server, "cxl-2", ioc("100", bid))["order_id"]
    results = ok(
        call(server, "POST", f"{B}/orders/batch_cancel", body={"order_ids": [resting, filled, "nope"]})
    )
    assert results["results"] == [
        {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": resting},
        {"success": False, "failure_reason": "ORDER_IS_FULLY_FILLED", "order_id": filled},
        {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": "nope"},
    ]
    order = ok(call(server, "GET", f"{B}/orders/historical/{resting}"))["order"]
    assert order["status"] in ("CANCEL_QUEUED", "CANCELLED")
    assert order["pending_cancel"] is (order["status"] == "CANCEL_QUEUED")
    again = ok(call(server, "POST", f"{B}/orders/batch_cancel", body={"order_ids": [resting]}))["results"][0]
    assert again["failure_reason"] == "DUPLICATE_CANCEL_REQUEST"


@pytest.mark.parametrize("body", [{"order_id": "x"}, {"order_ids": [{"order_id": "x"}]}, {"order_ids": []}])
def test_batch_cancel_with_a_malformed_body_is_400(server: ServerHandle, body: dict[str, Any]) -> None:
    response = call(server, "POST", f"{B}/orders/batch_cancel", body=body)
    assert response.status_code == 400 and response.json()["error"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{B}/orders/cancel"),
        ("DELETE", f"{B}/orders/some-order-id"),
        ("DELETE", f"{B}/orders/batch_cancel"),
        ("GET", f"{B}/orders/some-order-id"),
        ("GET", f"{B}/orders/historical"),
        ("GET", f"{B}/orders"),
        ("GET", "/docs"),
    ],
)
def test_wrong_endpoints_are_404_as_on_coinbase(server: ServerHandle, method: str, path: str) -> None:
    response = call(server, method, path, body={"order_ids": ["some-order-id"]})
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


# -- lists -------------------------------------------------------------------------------------------
def test_list_orders_filters_by_repeated_keys_and_pages_with_a_cursor() -> None:
    with running_server(balances={"PENGU": "5000", "ZK": "500"}) as server:
        _, ask = touch(server)
        ids = [create(server, f"list-{i}", gtd("100", above(ask, 100 + i)))["order_id"] for i in range(3)]
        zk_book = ok(call(server, "GET", f"{B}/product_book", params={"product_id": "ZK-USD"}))["pricebook"]
        zk_ask = Decimal(zk_book["asks"][0]["price"]) + Decimal("0.001")
        zk = create(server, "list-zk", gtd("20", str(zk_ask)), product="ZK-USD")["order_id"]
        call(server, "POST", f"{B}/orders/batch_cancel", body={"order_ids": [ids[0]]})

        path = f"{B}/orders/historical/batch"
        page = ok(call(server, "GET", path, params={"product_ids": ["PENGU-USD", "ZK-USD"], "limit": 2}))
        assert [o["order_id"] for o in page["orders"]] == [zk, ids[2]]  # newest first
        assert page["has_next"] is True and page["cursor"]
        rest = ok(
            call(
                server, "GET", path, params={"product_ids": ["PENGU-USD", "ZK-USD"], "cursor": page["cursor"]}
            )
        )
        assert [o["order_id"] for o in rest["orders"]] == [ids[1], ids[0]]
        assert rest["has_next"] is False and rest["cursor"] == ""

        ccxt_style = ok(
            call(
                server, "GET", path, params={"order_status": "OPEN", "product_id": "PENGU-USD", "limit": 100}
            )
        )
        assert [o["order_id"] for o in ccxt_style["orders"]] == [ids[2], ids[1]]
        either = ok(
            call(server, "GET", path, params={"order_status": ["OPEN", "CANCEL_QUEUED", "CANCELLED"]})
        )
        assert {o["order_id"] for o in either["orders"]} == {*ids, zk}
        by_id = ok(call(server, "GET", path, params={"order_ids": [ids[1], zk]}))
        assert {o["order_id"] for o in by_id["orders"]} == {ids[1], zk}


def test_fills_filter_by_order_and_product(server: ServerHandle) -> None:
    bid, _ = touch(server)
    first = create(server, "fills-1", ioc("100", bid))["order_id"]
    second = create(server, "fills-2", ioc("120", bid))["order_id"]
    path = f"{B}/orders/historical/fills"
    both = ok(call(server, "GET", path, params={"order_ids": [first, second]}))["fills"]
    assert {f["order_id"] for f in both} == {first, second}
    one = ok(call(server, "GET", path, params={"order_id": second, "product_id": "PENGU-USD"}))["fills"]
    assert [f["size"] for f in one] == ["120"]
    assert ok(call(server, "GET", path, params={"product_ids": ["BTC-USD"]}))["fills"] == []


# -- accounts, products, books -----------------------------------------------------------------------
def test_accounts_show_available_and_hold_per_currency() -> None:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
        _, ask = touch(server)
        create(server, "hold-1", gtd("1000", above(ask, 40)))
        accounts = ok(call(server, "GET", f"{B}/accounts", params={"limit": 250}))
        by_currency = {a["currency"]: a for a in accounts["accounts"]}
        pengu = by_currency["PENGU"]
        assert pengu["available_balance"] == {"value": "4000", "currency": "PENGU"}
        assert pengu["hold"] == {"value": "1000", "currency": "PENGU"}
        assert pengu["type"] == "ACCOUNT_TYPE_CRYPTO" and by_currency["USD"]["type"] == "ACCOUNT_TYPE_FIAT"
        assert accounts["has_next"] is False and set(by_currency) >= {"BTC", "ETH", "PENGU", "USD", "ZK"}

        single = ok(call(server, "GET", f"{B}/accounts/{pengu['uuid']}"))["account"]
        assert single == pengu
        assert call(server, "GET", f"{B}/accounts/00000000-0000-0000-0000-000000000000").status_code == 404

        first = ok(call(server, "GET", f"{B}/accounts", params={"limit": 2}))
        assert first["size"] == 2 and first["has_next"] is True
        second = ok(call(server, "GET", f"{B}/accounts", params={"limit": 2, "cursor": first["cursor"]}))
        assert {a["currency"] for a in second["accounts"]}.isdisjoint(
            a["currency"] for a in first["accounts"]
        )


def test_products_public_and_private_with_futures_empty(server: ServerHandle) -> None:
    public = ok(httpx.get(server.url + f"{B}/market/products"))
    listed = [p["product_id"] for p in public["products"]]
    assert listed == ["BTC-USD", "ETH-USD", "PENGU-USD", "ZK-USD", "SHIB-USD"]  # the embedded catalogue
    assert public["num_products"] == len(listed)
    pengu = next(p for p in public["products"] if p["product_id"] == "PENGU-USD")
    assert (pengu["base_increment"], pengu["price_increment"], pengu["quote_min_size"]) == (
        "1",
        "0.000001",
        "1",
    )
    assert pengu["status"] == "online" and pengu["trading_disabled"] is False
    assert ok(httpx.get(server.url + f"{B}/market/products", params={"product_type": "FUTURE"})) == {
        "products": [],
        "num_products": 0,
    }
    private = ok(call(server, "GET", f"{B}/products", params={"product_ids": ["ZK-USD"]}))
    assert [p["product_id"] for p in private["products"]] == ["ZK-USD"]
    assert ok(call(server, "GET", f"{B}/products/ZK-USD"))["base_increment"] == "0.1"
    assert ok(httpx.get(server.url + f"{B}/market/products/BTC-USD"))["price_increment"] == "0.01"
    unknown = call(server, "GET", f"{B}/products/DOGE-USD")
    assert unknown.status_code == 400 and unknown.json()["error"] == "INVALID_ARGUMENT"


def test_a_server_can_trade_products_of_its_own() -> None:
    foo = Product("FOO-USD", "FOO", "USD", Decimal("0.001"), Decimal("0.5"), Decimal("0.5"), Decimal("1"))
    with running_server(balances={"FOO": "10"}, products=[foo], prices={"FOO-USD": "2"}) as server:
        products = ok(httpx.get(server.url + f"{B}/market/products"))["products"]
        assert [(p["product_id"], p["base_increment"]) for p in products] == [("FOO-USD", "0.5")]
        assert abs(Decimal(products[0]["price"]) - 2) < Decimal("0.01")


def test_books_best_bid_ask_fees_and_time(server: ServerHandle) -> None:
    book = ok(
        httpx.get(server.url + f"{B}/market/product_book", params={"product_id": "PENGU-USD", "limit": 3})
    )
    bids, asks = book["pricebook"]["bids"], book["pricebook"]["asks"]
    assert len(bids) == len(asks) == 3
    assert [Decimal(b["price"]) for b in bids] == sorted((Decimal(b["price"]) for b in bids), reverse=True)
    assert [Decimal(a["price"]) for a in asks] == sorted(Decimal(a["price"]) for a in asks)
    assert Decimal(book["mid_market"]) == (Decimal(bids[0]["price"]) + Decimal(asks[0]["price"])) / 2
    best = ok(call(server, "GET", f"{B}/best_bid_ask", params={"product_ids": ["PENGU-USD", "ZK-USD"]}))
    assert [(b["product_id"], len(b["bids"]), len(b["asks"])) for b in best["pricebooks"]] == [
        ("PENGU-USD", 1, 1),
        ("ZK-USD", 1, 1),
    ]
    tier = ok(call(server, "GET", f"{B}/transaction_summary"))["fee_tier"]
    assert (tier["maker_fee_rate"], tier["taker_fee_rate"]) == ("0.006", "0.012")
    now = ok(httpx.get(server.url + f"{B}/time"))
    assert abs(int(now["epochSeconds"]) - SystemClock().now()) < 5 and now["iso"].endswith("Z")
    assert call(server, "GET", f"{B}/product_book", params={"product_id": "DOGE-USD"}).status_code == 400


def test_the_legacy_v2_routes_ccxt_loads(server: ServerHandle) -> None:
    crypto = ok(httpx.get(server.url + "/v2/currencies/crypto"))["data"]
    assert {c["code"] for c in crypto} == {"BTC", "ETH", "PENGU", "ZK", "SHIB"}
    assert all(isinstance(c["name"], str) for c in crypto)
    assert [c["id"] for c in ok(httpx.get(server.url + "/v2/currencies"))["data"]] == ["USD"]
    rates = ok(httpx.get(server.url + "/v2/exchange-rates"))["data"]["rates"]
    assert rates["USD"] == "1" and Decimal(rates["PENGU"]) > 60
    assert ok(call(server, "GET", "/v2/accounts"))["data"]


# -- auth --------------------------------------------------------------------------------------------
def token(key: Any, claims: dict[str, Any], headers: dict[str, Any] | None = None, alg: str = "ES256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def claims_for(server: ServerHandle, uri: str, **changes: Any) -> dict[str, Any]:
    now = int(SystemClock().now())
    base = {"sub": server.key_name, "iss": "cdp", "nbf": now, "exp": now + 120, "uri": uri}
    return {**base, **changes}


def own_key(server: ServerHandle) -> Any:
    return serialization.load_pem_private_key(server.private_key_pem.encode(), password=None)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_both_clients_uri_styles_and_any_host_are_accepted(server: ServerHandle) -> None:
    path = f"{B}/accounts"
    host = server.url.removeprefix("http://")
    key = own_key(server)
    for n, uri in enumerate((f"GET {host}{path}", f"GET {server.url}{path}", f"GET api.coinbase.com{path}")):
        kid = {"kid": server.key_name, "nonce": f"{n:02d}" * 16}  # a fresh nonce per token: no replay
        assert (
            call(server, "GET", path, headers=bearer(token(key, claims_for(server, uri), kid))).status_code
            == 200
        )
    ccxt_claims = claims_for(
        server, f"GET {server.url}{path}", iss="coinbase-cloud", aud=["retail_rest_api_proxy"], iat=0
    )
    kid = {"kid": server.key_name, "nonce": "cc" * 16}
    assert call(server, "GET", path, headers=bearer(token(key, ccxt_claims, kid))).status_code == 200


def bad_tokens(server: ServerHandle) -> dict[str, dict[str, str]]:
    path, host = f"{B}/accounts", server.url.removeprefix("http://")
    key, kid = own_key(server), {"kid": server.key_name}
    uri = f"GET {host}{path}"
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(SystemClock().now())
    return {
        "no header": {},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "not a jwt": bearer("abc"),
        "another key's signature": bearer(token(stranger, claims_for(server, uri), kid)),
        "unknown kid": bearer(token(key, claims_for(server, uri), {"kid": "organizations/x/apiKeys/y"})),
        "no kid": bearer(token(key, claims_for(server, uri))),
        "sub differs from kid": bearer(token(key, claims_for(server, uri, sub="someone"), kid)),
        "expired": bearer(token(key, claims_for(server, uri, nbf=now - 300, exp=now - 180), kid)),
        "not yet valid": bearer(token(key, claims_for(server, uri, nbf=now + 60, exp=now + 180), kid)),
        "lives too long": bearer(token(key, claims_for(server, uri, exp=now + 3600), kid)),
        "no exp": bearer(token(key, {k: v for k, v in claims_for(server, uri).items() if k != "exp"}, kid)),
        "other path": bearer(token(key, claims_for(server, f"GET {host}{B}/products"), kid)),
        "other method": bearer(token(key, claims_for(server, f"POST {host}{path}"), kid)),
        "no uri": bearer(token(key, {k: v for k, v in claims_for(server, uri).items() if k != "uri"}, kid)),
        "hmac": bearer(token("secret-secret-secret-secret-32b!", claims_for(server, uri), kid, alg="HS256")),
    }


def test_bad_jwts_are_401_plain_unauthorized(server: ServerHandle) -> None:
    for case, headers in bad_tokens(server).items():
        response = call(server, "GET", f"{B}/accounts", headers=headers)
        assert (response.status_code, response.text) == (401, "Unauthorized\n"), case
        assert response.headers["content-type"].startswith("text/plain"), case


def test_public_routes_need_no_auth(server: ServerHandle) -> None:
    for path in (f"{B}/time", f"{B}/market/products", "/v2/currencies", "/audit"):
        assert httpx.get(server.url + path).status_code == 200, path


def ed25519_credentials() -> Credentials:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ) + key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Credentials("organizations/ed/apiKeys/ed", base64.b64encode(raw).decode())


def test_an_ed25519_key_signs_with_eddsa_and_a_uris_list() -> None:
    credentials = ed25519_credentials()
    with running_server(balances={"USD": "1"}, credentials=credentials) as server:
        assert call(server, "GET", f"{B}/accounts").status_code == 200  # the helper signs EdDSA
        seed = base64.b64decode(credentials.private_key)[:32]
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        claims = claims_for(server, "", iss="cdp", aud=["cdp_service"])
        del claims["uri"]
        claims["uris"] = [f"GET {server.url}{B}/accounts"]
        signed = token(key, claims, {"kid": server.key_name}, alg="EdDSA")
        assert call(server, "GET", f"{B}/accounts", headers=bearer(signed)).status_code == 200
        es256 = token(ec.generate_private_key(ec.SECP256R1()), claims, {"kid": server.key_name})
        assert call(server, "GET", f"{B}/accounts", headers=bearer(es256)).status_code == 401


# -- rate limits -------------------------------------------------------------------------------------
def test_token_buckets_pass_a_burst_of_the_rate_then_refill() -> None:
    clock = VirtualClock(start=100.0)
    bucket = TokenBucket(30, clock)
    assert [bucket.take() for _ in range(31)] == [True] * 30 + [False]
    clock.advance_to(100.5)
    assert [bucket.take() for _ in range(16)] == [True] * 15 + [False]
    assert RateLimits() == RateLimits(private_per_sec=30, public_per_sec=10)


def test_over_the_limit_is_429_with_an_html_body() -> None:
    limits = RateLimits(private_per_sec=3, public_per_sec=2)
    with running_server(balances={"USD": "1"}, rate_limits=limits) as server, httpx.Client() as client:
        private = [
            client.get(server.url + f"{B}/accounts", headers=server.auth_header("GET", f"{B}/accounts"))
            for _ in range(6)
        ]
        public = [client.get(server.url + f"{B}/time") for _ in range(5)]
    for responses in (private, public):
        limited = [r for r in responses if r.status_code == 429]
        assert limited and responses[0].status_code == 200
        assert limited[0].headers["content-type"].startswith("text/html")
        assert "<h1>429 Too Many Requests</h1>" in limited[0].text


# -- audit and credentials ---------------------------------------------------------------------------
def test_the_audit_lists_every_order_and_fill_and_the_audit_file_follows(tmp_path: Path) -> None:
    audit_file = tmp_path / "audit.jsonl"
    with running_server(balances={"PENGU": "5000"}, audit_file=audit_file) as server:
        bid, ask = touch(server)
        resting = create(server, "audit-rest", gtd("100", above(ask, 30)))["order_id"]
        taken = create(server, "audit-ioc", ioc("500", bid))["order_id"]
        create(server, "audit-cross", gtd("100", bid))  # refused: no order
        audit = ok(httpx.get(server.url + "/audit"))
        assert audit == server.audit()
    orders = {o["order_id"]: o for o in audit["orders"]}
    assert set(orders) == {resting, taken}
    assert orders[resting]["status"] == "OPEN" and orders[resting]["order_configuration"] == gtd(
        "100", above(ask, 30)
    )
    assert (orders[taken]["status"], orders[taken]["filled_size"], orders[taken]["client_order_id"]) == (
        "FILLED",
        "500",
        "audit-ioc",
    )
    assert {"order_id", "client_order_id", "product_id", "side", "created_time"} <= set(orders[taken])
    assert [(f["order_id"], f["size"]) for f in audit["fills"]] == [(taken, "500")]
    lines = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert {(line["event"], line.get("order_id")) for line in lines} == {
        ("order", resting),
        ("order", taken),
        ("fill", taken),
    }


def test_credentials_file_is_a_cdp_key_readable_by_its_owner_only(server: ServerHandle) -> None:
    data = json.loads(server.credentials_path.read_text())
    assert set(data) == {"name", "privateKey"}
    assert data["name"] == server.key_name and data["name"].startswith("organizations/")
    assert "/apiKeys/" in data["name"]
    assert data["privateKey"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    assert stat.S_IMODE(server.credentials_path.stat().st_mode) == 0o600
    assert load_credentials(server.credentials_path).name == server.key_name
    assert "PRIVATE" not in repr(load_credentials(server.credentials_path))


def test_credentials_round_trip_and_bad_files_are_refused(tmp_path: Path) -> None:
    made = generate_credentials()
    path = made.write(tmp_path / "keys")
    assert load_credentials(path) == made
    for name, text in {
        "notjson": "{",
        "fields": '{"name": "x"}',
        "key": '{"name": "x", "privateKey": "@@"}',
    }.items():
        bad = tmp_path / name
        bad.write_text(text)
        with pytest.raises(CredentialsError) as refused:
            load_credentials(bad)
        assert "@@" not in str(refused.value)
    with pytest.raises(CredentialsError):
        load_credentials(tmp_path / "missing.json")
