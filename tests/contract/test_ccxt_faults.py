"""The ccxt adapter against a misbehaving venue: throttles, 5xx, lost answers, and secrets kept.

All against the Coinbase-compatible sim server on 127.0.0.1 with its fault injection; the
server's audit (what the exchange really holds) is the judge of "no second order, no ghost".
"""

from __future__ import annotations

import asyncio
import decimal
import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from ccxt_fault_kit import (
    FAST_RETRY,
    ErrorBody,
    FaultPlan,
    Trigger,
    adapter_on_server,
    events,
    exception_chain,
    inject,
    orders_with_client_id,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from exchange_venues import PRODUCT_ID, ioc_sell, post_only_sell, ticks
from pydantic import SecretStr

from makerfirst.adapters.ccxt_exchange import (
    ApiCredentials,
    CcxtExchange,
    RetryPolicy,
    VenueUnavailableError,
    load_credentials,
)
from makerfirst.clock import SystemClock
from makerfirst.domain.errors import AuthenticationError, RateLimitedError
from makerfirst.domain.orders import CancelOutcome, CancelResult, OrderAccepted, OrderStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # everything, ccxt's wire log included
    return caplog


# -- throttling ------------------------------------------------------------------------------------
async def test_html_429_is_backed_off_and_retried_until_it_succeeds(logs: pytest.LogCaptureFixture) -> None:
    async with adapter_on_server() as (exchange, server):
        await exchange.get_balances()
        inject(server, FaultPlan(rate_429=Trigger.first(2)))
        balances = await exchange.get_balances()
    assert balances["USD"] == Decimal("100")
    retries = events(logs.records, "request_retry")
    assert [r.kind for r in retries] == ["rate_limited", "rate_limited"]  # type: ignore[attr-defined]


async def test_429_while_loading_markets_is_retried_too() -> None:
    async with adapter_on_server(plan=FaultPlan(rate_429=Trigger.first(1))) as (exchange, _):
        product = await exchange.get_product(PRODUCT_ID)
    assert product.product_id == PRODUCT_ID


async def test_429_that_persists_raises_rate_limited_after_capped_backoff() -> None:
    retry = RetryPolicy(base_delay_sec=0.01, max_delay_sec=0.05, rate_limit_attempts=3)
    async with adapter_on_server(retry=retry) as (exchange, server):
        await exchange.get_balances()
        inject(server, FaultPlan(rate_429=Trigger.first(50)))
        with pytest.raises(RateLimitedError) as raised:
            await exchange.get_balances()
    assert raised.value.retry_after_sec > 0


async def test_client_side_limiter_keeps_a_burst_within_the_venue_limit(
    logs: pytest.LogCaptureFixture,
) -> None:
    async with adapter_on_server() as (exchange, _):
        await exchange.get_balances()
        await asyncio.gather(*(exchange.get_balances() for _ in range(40)))  # 30 private requests/s
    assert events(logs.records, "request_retry") == []  # the server never had to say 429


# -- 5xx on reads ----------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["html", "json"])
async def test_5xx_on_a_read_is_retried(body: str, logs: pytest.LogCaptureFixture) -> None:
    async with adapter_on_server() as (exchange, server):
        await exchange.get_balances()
        inject(server, FaultPlan(error_5xx=Trigger.first(2), error_5xx_body=ErrorBody(body)))
        book = await exchange.get_order_book(PRODUCT_ID)
    assert book.best_bid < book.best_ask
    assert [r.kind for r in events(logs.records, "request_retry")] == ["transient", "transient"]  # type: ignore[attr-defined]


async def test_5xx_that_persists_on_a_read_gives_up_after_bounded_retries(
    logs: pytest.LogCaptureFixture,
) -> None:
    async with adapter_on_server() as (exchange, server):
        await exchange.get_balances()
        inject(server, FaultPlan(error_5xx=Trigger.first(50)))
        with pytest.raises(VenueUnavailableError):
            await exchange.get_balances()
    assert len(events(logs.records, "request_retry")) == FAST_RETRY.transient_attempts - 1


# -- lost answers to writes ------------------------------------------------------------------------
async def test_create_accepted_then_timed_out_is_found_by_client_id_and_not_sent_again(
    logs: pytest.LogCaptureFixture,
) -> None:
    plan = FaultPlan(create_timeout=Trigger.first(1), hang_sec=3.0)
    async with adapter_on_server(plan=plan, timeout_sec=0.5) as (exchange, server):
        book = await exchange.get_order_book(PRODUCT_ID)
        command = post_only_sell("lost-answer", book.best_ask + ticks(20), "100", SystemClock().now() + 30)
        answer = await exchange.place_order(command)
        assert isinstance(answer, OrderAccepted)
        assert (await exchange.get_order(answer.order_id)).status is OrderStatus.OPEN
        created = orders_with_client_id(server, "lost-answer")
    assert [o["order_id"] for o in created] == [answer.order_id]  # exactly one order exists
    assert len(events(logs.records, "create_unanswered")) == 1
    assert events(logs.records, "create_resent") == []  # found, so nothing was sent again


async def test_create_lost_before_the_venue_took_it_is_resent_once_with_the_same_client_id(
    logs: pytest.LogCaptureFixture,
) -> None:
    async with adapter_on_server() as (exchange, server):
        book = await exchange.get_order_book(PRODUCT_ID)
        command = post_only_sell("never-arrived", book.best_ask + ticks(20), "100", SystemClock().now() + 30)
        inject(server, FaultPlan(error_5xx=Trigger.first(1)))  # the create meets a 503 and is not processed
        answer = await exchange.place_order(command)
        assert isinstance(answer, OrderAccepted)
        created = orders_with_client_id(server, "never-arrived")
    assert [o["order_id"] for o in created] == [answer.order_id]
    assert len(events(logs.records, "create_resent")) == 1  # looked first, then re-sent the same create


async def test_cancel_5xx_after_the_order_filled_rereads_it_and_reports_filled() -> None:
    plan = FaultPlan(cancel_5xx_after_fill=Trigger.first(1))
    async with adapter_on_server(plan=plan) as (exchange, server):
        book = await exchange.get_order_book(PRODUCT_ID)
        answer = await exchange.place_order(ioc_sell("filled-then-cancel", book.best_bid, Decimal(100)))
        assert isinstance(answer, OrderAccepted)
        results = await exchange.cancel_orders([answer.order_id])
        report = await exchange.get_order(answer.order_id)
        audit = server.audit()
    assert results == [CancelResult(answer.order_id, CancelOutcome.ALREADY_FILLED)]
    assert report.status is OrderStatus.FILLED and report.filled_size == 100
    assert [(o["order_id"], o["status"]) for o in audit["orders"]] == [
        (answer.order_id, "FILLED")
    ]  # no ghost


# -- secrets ---------------------------------------------------------------------------------------
def _fresh_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _secret_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and "-----" not in line]


def _assert_no_secret(text: str, pem: str) -> None:
    assert "BEGIN EC PRIVATE KEY" not in text
    for line in _secret_lines(pem):
        assert line not in text
    assert "Bearer ey" not in text  # no signed token either


def _assert_error_is_clean(error: BaseException, pem: str) -> None:
    for link in exception_chain(error):
        _assert_no_secret(f"{link!s} {link!r} {link.args!r}", pem)


def test_credentials_and_the_adapter_never_print_the_key(tmp_path: Path) -> None:
    pem = _fresh_key_pem()
    path = tmp_path / "cdp_api_key.json"
    path.write_text(json.dumps({"name": "organizations/o/apiKeys/k", "privateKey": pem}))
    credentials = load_credentials(path)
    assert credentials.private_key.get_secret_value() == pem.strip() + "\n"
    _assert_no_secret(f"{credentials!s} {credentials!r} {credentials.private_key!s}", pem)
    exchange = CcxtExchange(clock=SystemClock(), credentials=credentials, api_url="http://127.0.0.1:9")
    _assert_no_secret(repr(exchange), pem)
    asyncio.run(exchange.close())


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda pem: '{"name": "k", "privateKey": "' + pem + '"', id="truncated-json"),
        pytest.param(lambda pem: json.dumps({"name": "k", "privateKey": pem[:-40]}), id="damaged-pem"),
        pytest.param(lambda pem: json.dumps(["k", pem]), id="not-an-object"),
    ],
)
def test_a_bad_key_file_is_refused_without_quoting_the_key(tmp_path: Path, content: object) -> None:
    pem = _fresh_key_pem()
    path = tmp_path / "key.json"
    path.write_text(content(pem))  # type: ignore[operator]
    with pytest.raises(AuthenticationError) as raised:
        load_credentials(path)
    assert str(path) in str(raised.value)
    _assert_error_is_clean(raised.value, pem)


async def test_a_key_the_venue_does_not_know_fails_authentication_and_leaks_nothing(
    logs: pytest.LogCaptureFixture,
) -> None:
    pem = _fresh_key_pem()
    async with adapter_on_server() as (_, server):
        stranger = ApiCredentials(key_name=server.key_name, private_key=SecretStr(pem))
        async with CcxtExchange(
            clock=SystemClock(), api_url=server.url, credentials=stranger, retry=FAST_RETRY
        ) as exchange:
            with pytest.raises(AuthenticationError) as raised:
                await exchange.get_balances()
            with pytest.raises(AuthenticationError):
                await exchange.place_order(ioc_sell("x", Decimal("0.01"), Decimal(100)))
    _assert_error_is_clean(raised.value, pem)
    _assert_no_secret(logs.text, pem)
    _assert_no_secret(" ".join(r.getMessage() for r in logs.records), pem)


async def test_a_faulty_session_logs_no_secret(logs: pytest.LogCaptureFixture) -> None:
    plan = FaultPlan(rate_429=Trigger.first(1), create_timeout=Trigger.first(1), hang_sec=2.0)
    async with adapter_on_server(plan=plan, timeout_sec=0.5) as (exchange, server):
        pem = server.private_key_pem
        book = await exchange.get_order_book(PRODUCT_ID)
        inject(server, FaultPlan(error_5xx=Trigger.first(1), create_timeout=Trigger.first(1), hang_sec=2.0))
        await exchange.place_order(
            post_only_sell("quiet", book.best_ask + ticks(20), "100", SystemClock().now() + 30)
        )
    wire = [r.getMessage() for r in logs.records if r.name == "makerfirst.adapters.ccxt_exchange.wire"]
    assert any("Bearer <redacted>" in line for line in wire)  # ccxt logged its requests, redacted
    _assert_no_secret(logs.text, pem)
    _assert_no_secret(" ".join(r.getMessage() for r in logs.records), pem)


# -- side effects ---------------------------------------------------------------------------------
async def test_the_adapter_leaves_the_decimal_context_alone() -> None:
    """ccxt's precision helpers retune the current decimal context; ours must not see that."""
    before = decimal.getcontext().copy()
    async with adapter_on_server() as (exchange, _):
        book = await exchange.get_order_book(PRODUCT_ID)
        await exchange.place_order(ioc_sell("ctx", book.best_bid, Decimal(100)))
    after = decimal.getcontext()
    assert after.rounding == before.rounding == decimal.ROUND_HALF_EVEN
    assert after.traps == before.traps
