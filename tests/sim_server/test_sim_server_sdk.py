"""The official ``coinbase-advanced-py`` SDK against the sim server, over plain HTTP (§8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests
from coinbase.rest import RESTClient

from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

END = "2030-01-01T00:00:00Z"


class PlainHttpClient(RESTClient):  # type: ignore[misc]  # the SDK is untyped
    """The SDK hard-codes ``https://``; the notes' option 2 sends the same request over HTTP."""

    def send_request(
        self, http_method: str, url_path: str, params: Any, headers: Any, data: Any = None
    ) -> Any:
        response = self.session.request(
            http_method,
            f"http://{self.base_url}{url_path}",
            params=params,
            json=data or {},
            headers=headers,
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()


def sdk(server: ServerHandle) -> PlainHttpClient:
    # The key file is exactly what the server wrote; the JWT uri is "METHOD host:port/path".
    return PlainHttpClient(
        key_file=str(server.credentials_path), base_url=server.url.removeprefix("http://"), timeout=5
    )


def test_the_sdk_creates_gets_and_cancels_an_order() -> None:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
        client = sdk(server)
        book = client.get_product_book("PENGU-USD", limit=1).to_dict()["pricebook"]
        price = str(Decimal(book["asks"][0]["price"]) + Decimal("0.00005"))
        created = client.limit_order_gtd_sell("sdk-1", "PENGU-USD", "1000", price, END, post_only=True)
        assert created.success is True
        order_id = created.success_response["order_id"]

        order = client.get_order(order_id).order
        assert (order.status, order.client_order_id, order.time_in_force) == (
            "OPEN",
            "sdk-1",
            "GOOD_UNTIL_DATE_TIME",
        )
        assert order.order_configuration.limit_limit_gtd.post_only is True

        cancelled = client.cancel_orders(order_ids=[order_id]).to_dict()["results"]
        assert cancelled == [
            {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": order_id}
        ]
        assert client.get_order(order_id).order.status in ("CANCEL_QUEUED", "CANCELLED")

        accounts = {a["currency"]: a for a in client.get_accounts(limit=250).to_dict()["accounts"]}
        assert accounts["PENGU"]["available_balance"]["value"] in ("4000", "5000")  # the cancel may be queued

        listed = client.list_orders(
            order_status=["OPEN", "CANCEL_QUEUED", "CANCELLED"], product_ids=["PENGU-USD"]
        )
        assert [o["order_id"] for o in listed.to_dict()["orders"]] == [order_id]


def test_the_sdk_sees_ioc_fills_and_a_refused_post_only_without_raising() -> None:
    with running_server(balances={"PENGU": "5000"}) as server:
        client = sdk(server)
        bid = client.get_best_bid_ask(["PENGU-USD"]).to_dict()["pricebooks"][0]["bids"][0]["price"]
        refused = client.limit_order_gtd_sell("sdk-cross", "PENGU-USD", "100", bid, END, post_only=True)
        assert refused.success is False
        reasons = refused.error_response
        assert (reasons["error"], reasons["new_order_failure_reason"], reasons["preview_failure_reason"]) == (
            "INVALID_LIMIT_PRICE_POST_ONLY",
            "INVALID_LIMIT_PRICE_POST_ONLY",
            "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        )
        taken = client.limit_order_ioc_sell("sdk-ioc", "PENGU-USD", "300", bid)
        order_id = taken.success_response["order_id"]
        assert client.get_order(order_id).order.status == "FILLED"
        fills = client.get_fills(order_ids=[order_id]).to_dict()["fills"]
        assert [(f["size"], f["liquidity_indicator"]) for f in fills] == [("300", "TAKER")]
        summary = client.get_transaction_summary().to_dict()
        assert summary["fee_tier"]["taker_fee_rate"] == "0.012"


def test_the_sdk_gets_a_404_for_an_unknown_order_and_a_401_for_a_foreign_key() -> None:
    with running_server(balances={"USD": "1"}) as server, running_server(balances={"USD": "1"}) as other:
        client = sdk(server)
        with pytest.raises(requests.HTTPError) as unknown:
            client.get_order("no-such-order")
        assert unknown.value.response.status_code == 404
        stranger = PlainHttpClient(
            key_file=str(other.credentials_path), base_url=server.url.removeprefix("http://")
        )
        with pytest.raises(requests.HTTPError) as refused:
            stranger.get_accounts()
        assert (refused.value.response.status_code, refused.value.response.text) == (401, "Unauthorized\n")
