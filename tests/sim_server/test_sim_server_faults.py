"""Each fault the sim server can inject, what a client sees, and the ``--faults`` syntax."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from ccxt.base.errors import (
    ExchangeError,
    ExchangeNotAvailable,
    NetworkError,
    RateLimitExceeded,
    RequestTimeout,
)

from makerfirst.adapters.sim_server import FaultPlan, RateLimits, Trigger
from makerfirst.adapters.sim_server.faults import ErrorBody, FaultInjector, FaultKind
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

B = "/api/v3/brokerage"
SYMBOL = "PENGU/USD"
GENEROUS = RateLimits(private_per_sec=1_000, public_per_sec=1_000)  # faults only, no real limiting


def ccxt_client(server: ServerHandle, **config: Any) -> ccxt_async.coinbase:
    return ccxt_async.coinbase(
        {
            "apiKey": server.key_name,
            "secret": server.private_key_pem,
            "urls": {"api": {"rest": server.url}},
            "enableRateLimit": False,
            "has": {"fetchCurrencies": False},
            "options": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},
            **config,
        }
    )


def signed(server: ServerHandle, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=server.auth_header(method, path), **kw)


def create_body(cid: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"client_order_id": cid, "product_id": "PENGU-USD", "side": "SELL", "order_configuration": config}


def best_bid(server: ServerHandle) -> str:
    book = httpx.get(server.url + f"{B}/market/product_book", params={"product_id": "PENGU-USD", "limit": 1})
    price: str = book.json()["pricebook"]["bids"][0]["price"]
    return price


# -- the plan ----------------------------------------------------------------------------------------
def test_the_faults_syntax_parses_every_knob() -> None:
    plan = FaultPlan.parse(
        "latency=0.05, rate429=0.1,error5xx=2,error5xx_body=json,create_timeout=1,hang=3,"
        "cancel_5xx_after_fill=1.0,seed=7"
    )
    assert plan == FaultPlan(
        latency_sec=0.05,
        rate_429=Trigger.chance(0.1),
        error_5xx=Trigger.first(2),
        error_5xx_body=ErrorBody.JSON,
        create_timeout=Trigger.first(1),
        hang_sec=3.0,
        cancel_5xx_after_fill=Trigger.chance(1.0),
        seed=7,
    )
    assert FaultPlan.parse("") == FaultPlan()


@pytest.mark.parametrize(
    "text",
    ["latency", "bogus=1", "rate429=often", "rate429=1.5", "rate429=-1", "error5xx_body=xml", "seed=x"],
)
def test_a_bad_faults_entry_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="--faults entry"):
        FaultPlan.parse(text)


def test_probabilistic_faults_repeat_with_the_seed_and_counts_run_out() -> None:
    def pattern(seed: int) -> list[bool]:
        injector = FaultInjector(FaultPlan(rate_429=Trigger.chance(0.5), seed=seed))
        return [injector.fires(FaultKind.RATE_429) for _ in range(40)]

    assert pattern(3) == pattern(3) and pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 35
    counted = FaultInjector(FaultPlan(error_5xx=Trigger.first(2)))
    assert [counted.fires(FaultKind.ERROR_5XX) for _ in range(4)] == [True, True, False, False]
    assert not FaultInjector(FaultPlan()).fires(FaultKind.CREATE_TIMEOUT)


# -- each fault on the wire --------------------------------------------------------------------------
def test_faults_can_be_switched_on_while_the_server_runs() -> None:
    with running_server(balances={"USD": "1"}) as server:
        assert httpx.get(server.url + f"{B}/time").status_code == 200
        server.set_faults(FaultPlan(error_5xx=Trigger.first(1)))
        assert [httpx.get(server.url + f"{B}/time").status_code for _ in range(2)] == [503, 200]


def test_latency_delays_every_request() -> None:
    with running_server(balances={"USD": "1"}, faults=FaultPlan(latency_sec=0.05)) as server:
        started = time.perf_counter()
        for _ in range(3):
            assert httpx.get(server.url + f"{B}/time").status_code == 200
        assert time.perf_counter() - started >= 0.15


def test_rate429_answers_html_and_ccxt_raises_rate_limit_exceeded() -> None:
    async def scenario(server: ServerHandle) -> None:
        exchange = ccxt_client(server)
        try:
            with pytest.raises(RateLimitExceeded):
                await exchange.fetch_order_book(SYMBOL)
            assert (await exchange.fetch_order_book(SYMBOL))["bids"]
        finally:
            await exchange.close()

    with running_server(balances={"USD": "1"}, faults=FaultPlan(rate_429=Trigger.first(2))) as server:
        first = httpx.get(server.url + f"{B}/time")
        assert first.status_code == 429 and first.headers["content-type"].startswith("text/html")
        asyncio.run(scenario(server))


@pytest.mark.parametrize(
    ("body", "content_type", "ccxt_error"),
    [
        (ErrorBody.HTML, "text/html", ExchangeNotAvailable),
        (ErrorBody.JSON, "application/json", ExchangeError),
    ],
)
def test_error5xx_answers_503_in_either_body(body: ErrorBody, content_type: str, ccxt_error: type) -> None:
    async def scenario(server: ServerHandle) -> None:
        exchange = ccxt_client(server)
        try:
            with pytest.raises(ccxt_error):
                await exchange.fetch_balance()
            assert (await exchange.fetch_balance())["USD"]["free"] == 1.0
        finally:
            await exchange.close()

    plan = FaultPlan(error_5xx=Trigger.first(2), error_5xx_body=body)
    with running_server(balances={"USD": "1"}, faults=plan) as server:
        response = signed(server, "GET", f"{B}/accounts")
        assert response.status_code == 503 and response.headers["content-type"].startswith(content_type)
        if body is ErrorBody.JSON:
            assert response.json()["error"] == "INTERNAL"
        asyncio.run(scenario(server))


def test_create_timeout_creates_the_order_then_the_client_times_out_and_a_retry_is_idempotent() -> None:
    plan = FaultPlan(create_timeout=Trigger.first(1), hang_sec=30)

    async def scenario(server: ServerHandle) -> str:
        exchange = ccxt_client(server, timeout=300)  # milliseconds
        try:
            await exchange.load_markets()
            params = {"timeInForce": "IOC", "client_order_id": "retry-me"}
            with pytest.raises(RequestTimeout):
                await exchange.create_order(SYMBOL, "limit", "sell", 100, float(best_bid(server)), params)
            assert [o["client_order_id"] for o in server.audit()["orders"]] == ["retry-me"]
            again = await exchange.create_order(SYMBOL, "limit", "sell", 100, float(best_bid(server)), params)
            order_id: str = again["id"]
            return order_id
        finally:
            await exchange.close()

    started = time.perf_counter()
    with running_server(balances={"PENGU": "5000"}, faults=plan, rate_limits=GENEROUS) as server:
        order_id = asyncio.run(scenario(server))
        audit = server.audit()
    assert [o["order_id"] for o in audit["orders"]] == [order_id]  # the retry created nothing new
    assert len(audit["fills"]) == 1
    assert time.perf_counter() - started < 10  # stopping the server released the held answer


def test_create_timeout_drops_the_connection_once_the_hang_is_over() -> None:
    plan = FaultPlan(create_timeout=Trigger.first(1), hang_sec=0.05)
    with running_server(balances={"PENGU": "5000"}, faults=plan) as server:
        body = create_body(
            "dropped", {"sor_limit_ioc": {"base_size": "100", "limit_price": best_bid(server)}}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            signed(server, "POST", f"{B}/orders", json=body, timeout=5)
        assert [o["client_order_id"] for o in server.audit()["orders"]] == ["dropped"]
        replay = signed(server, "POST", f"{B}/orders", json=body, timeout=5)
        assert replay.status_code == 200 and replay.json()["success"] is True


def test_a_dropped_create_is_a_network_error_in_ccxt() -> None:
    async def scenario(server: ServerHandle) -> None:
        exchange = ccxt_client(server)
        try:
            await exchange.load_markets()
            with pytest.raises(NetworkError):
                await exchange.create_order(
                    SYMBOL, "limit", "sell", 100, float(best_bid(server)), {"timeInForce": "IOC"}
                )
        finally:
            await exchange.close()

    plan = FaultPlan(create_timeout=Trigger.first(1), hang_sec=0.05)
    with running_server(balances={"PENGU": "5000"}, faults=plan) as server:
        asyncio.run(scenario(server))
        assert len(server.audit()["orders"]) == 1


def test_cancel_5xx_after_fill_hits_only_cancels_that_name_a_filled_order() -> None:
    plan = FaultPlan(cancel_5xx_after_fill=Trigger.first(1))
    with running_server(balances={"PENGU": "5000"}, faults=plan) as server:
        bid = best_bid(server)
        resting_price = str(Decimal(bid) + Decimal("0.0001"))
        gtd = {
            "limit_limit_gtd": {
                "base_size": "100",
                "limit_price": resting_price,
                "end_time": "2030-01-01T00:00:00Z",
                "post_only": True,
            }
        }
        resting = signed(server, "POST", f"{B}/orders", json=create_body("open-one", gtd)).json()["order_id"]
        ioc = {"sor_limit_ioc": {"base_size": "100", "limit_price": bid}}
        filled = signed(server, "POST", f"{B}/orders", json=create_body("filled-one", ioc)).json()["order_id"]

        not_eligible = signed(server, "POST", f"{B}/orders/batch_cancel", json={"order_ids": [resting]})
        assert not_eligible.status_code == 200 and not_eligible.json()["results"][0]["success"] is True

        hit = signed(server, "POST", f"{B}/orders/batch_cancel", json={"order_ids": [filled]})
        assert hit.status_code == 503

        after = signed(server, "POST", f"{B}/orders/batch_cancel", json={"order_ids": [filled]})
        assert after.json()["results"] == [
            {"success": False, "failure_reason": "ORDER_IS_FULLY_FILLED", "order_id": filled}
        ]
