"""Coinbase's SDK, unmodified, against ``sim-server --tls``: RESTClient over HTTPS, WSClient over WSS.

The only things a user changes are the base URLs and the CA file (``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from coinbase.rest import RESTClient
from coinbase.websocket import WSClient

from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

END = "2030-01-01T00:00:00Z"


@pytest.fixture
def tls_server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with running_server(market="liquid", balances={"ETH": "2", "USD": "10000"}, tls=True) as server:
        assert server.ca_file is not None
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
        yield server


def _client(server: ServerHandle) -> RESTClient:
    return RESTClient(
        api_key=server.key_name, api_secret=server.private_key_pem, base_url=server.netloc, timeout=5
    )


def test_the_unmodified_rest_client_trades_over_https(tls_server: ServerHandle) -> None:
    client = _client(tls_server)
    products = client.get_products().to_dict()["products"]
    assert "ETH-USD" in {p["product_id"] for p in products}
    book = client.get_product_book("ETH-USD", limit=5).to_dict()["pricebook"]
    best_bid, best_ask = Decimal(book["bids"][0]["price"]), Decimal(book["asks"][0]["price"])
    accounts = {a["currency"]: a for a in client.get_accounts().to_dict()["accounts"]}
    assert accounts["ETH"]["available_balance"]["value"] == "2"

    resting = client.limit_order_gtd_sell(
        "tls-1", "ETH-USD", "0.1", str(best_ask + Decimal("5")), END, post_only=True
    )
    assert resting.success is True
    deep = str(best_bid - Decimal(20))  # far inside the bids, however the book has moved since
    crossing = client.limit_order_gtd_sell("tls-2", "ETH-USD", "0.1", deep, END, post_only=True)
    assert crossing.success is False
    assert crossing.error_response["error"] == "INVALID_LIMIT_PRICE_POST_ONLY"

    sold = client.market_order_sell("tls-3", "ETH-USD", base_size="0.05")
    assert sold.success is True
    sold_id = sold.success_response["order_id"]
    assert client.get_order(sold_id).order.status == "FILLED"

    order_id = resting.success_response["order_id"]
    cancelled = client.cancel_orders(order_ids=[order_id]).to_dict()["results"]
    assert [r["success"] for r in cancelled] == [True]

    fills = client.get_fills(order_ids=[sold_id]).to_dict()["fills"]
    assert sum(Decimal(f["size"]) for f in fills) == Decimal("0.05")
    assert {f["liquidity_indicator"] for f in fills} == {"TAKER"}

    now = int(time.time())
    candles = client.get_candles("ETH-USD", str(now - 600), str(now + 60), "ONE_MINUTE").to_dict()["candles"]
    assert candles and all(Decimal(c["low"]) <= Decimal(c["high"]) for c in candles)


def test_without_the_ca_file_the_certificate_is_refused(
    tls_server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_server.url}/api/v3/brokerage/time", verify=True, timeout=5)


def test_the_unmodified_ws_client_receives_level2_and_user_messages(tls_server: ServerHandle) -> None:
    received: list[dict[str, Any]] = []
    arrived = threading.Condition()

    def on_message(text: str) -> None:
        with arrived:
            received.append(json.loads(text))
            arrived.notify_all()

    def wait_for(predicate: Any) -> None:
        with arrived:
            assert arrived.wait_for(lambda: predicate(received), timeout=10), received[-3:]

    ws = WSClient(
        api_key=tls_server.key_name,
        api_secret=tls_server.private_key_pem,
        base_url=tls_server.ws_url,
        on_message=on_message,
        retry=False,
    )
    ws.open()
    try:
        ws.subscribe(["ETH-USD"], ["level2", "user"])
        wait_for(lambda ms: any(m.get("channel") == "l2_data" for m in ms))
        wait_for(lambda ms: any(m.get("channel") == "user" for m in ms))
        book = _client(tls_server).get_product_book("ETH-USD", limit=1).to_dict()["pricebook"]
        price = str(Decimal(book["asks"][0]["price"]) + Decimal("3"))
        client = _client(tls_server)
        created = client.limit_order_gtd_sell("tls-ws", "ETH-USD", "0.1", price, END, post_only=True)
        order_id = created.success_response["order_id"]
        wait_for(
            lambda ms: any(
                o["order_id"] == order_id and o["status"] == "OPEN"
                for m in ms
                if m.get("channel") == "user"
                for e in m["events"]
                for o in e["orders"]
            )
        )
    finally:
        ws.close()
    l2 = [m for m in received if m.get("channel") == "l2_data"]
    assert l2[0]["events"][0]["type"] == "snapshot"
