"""The ccxt adapter's pure parts: limits and backoff on a virtual clock, payload parsing, errors."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from makerfirst.adapters.ccxt_exchange import CcxtExchange, RetryPolicy, capabilities_for, load_credentials
from makerfirst.adapters.ccxt_exchange.capabilities import (
    COINBASE,
    CancelStyle,
    ClientIdLookup,
    GtdStyle,
    PayloadDialect,
    RequestBudget,
)
from makerfirst.adapters.ccxt_exchange.client import FailureKind, classify, json_in_message
from makerfirst.adapters.ccxt_exchange.credentials import Redactor
from makerfirst.adapters.ccxt_exchange.parsing import (
    coinbase_order_report,
    epoch_of_rfc3339,
    failure_codes,
    reject_reason_of,
    rfc3339_of_epoch,
)
from makerfirst.adapters.ccxt_exchange.resilience import SlidingWindowLimiter
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import AuthenticationError, MakerfirstError
from makerfirst.domain.orders import OrderStatus, OrderType, RejectReason


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


# -- limits and backoff ----------------------------------------------------------------------------
def test_limiter_admits_the_budget_then_waits_for_the_window_to_slide() -> None:
    clock = VirtualClock(start=100.0)
    limiter = SlidingWindowLimiter(clock, RequestBudget(30))

    async def burst() -> list[float]:
        times = []
        for _ in range(65):
            await limiter.acquire()
            times.append(clock.now())
        return times

    times = asyncio.run(burst())
    assert times[:30] == [100.0] * 30
    assert times[30:60] == [101.0] * 30
    assert times[60:] == [102.0] * 5
    assert all(sum(1 for t in times if start <= t < start + 1) <= 30 for start in times)


def test_limiter_serves_concurrent_callers_within_the_budget() -> None:
    clock = VirtualClock(start=0.0)
    limiter = SlidingWindowLimiter(clock, RequestBudget(10))

    async def one() -> float:
        await limiter.acquire()
        return clock.now()

    async def many() -> list[float]:
        return list(await asyncio.gather(*(one() for _ in range(25))))

    assert sorted(asyncio.run(many())) == [0.0] * 10 + [1.0] * 10 + [2.0] * 5


def test_backoff_grows_exponentially_is_capped_and_jittered_below_the_ceiling() -> None:
    policy = RetryPolicy(base_delay_sec=0.25, max_delay_sec=2.0, jitter=0.5)
    rng = random.Random(3)
    for attempt, ceiling in [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (5, 2.0), (12, 2.0)]:
        for _ in range(20):
            assert ceiling * 0.5 <= policy.delay(attempt, rng) <= ceiling


# -- reject reasons --------------------------------------------------------------------------------
def _failure(**fields: str) -> str:
    inner = ", ".join(f'"{k}": "{v}"' for k, v in fields.items())
    return 'coinbase {"success": false, "error_response": {' + inner + "}}"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            _failure(
                error="INVALID_LIMIT_PRICE_POST_ONLY",
                preview_failure_reason="PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
                new_order_failure_reason="INVALID_LIMIT_PRICE_POST_ONLY",
            ),
            RejectReason.POST_ONLY_WOULD_CROSS,
        ),
        (  # live traffic: the code only in the deprecated field
            _failure(
                error="INVALID_LIMIT_PRICE_POST_ONLY", new_order_failure_reason="UNKNOWN_FAILURE_REASON"
            ),
            RejectReason.POST_ONLY_WOULD_CROSS,
        ),
        (  # ... or only in the preview reason
            _failure(
                error="UNKNOWN_FAILURE_REASON", preview_failure_reason="PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"
            ),
            RejectReason.POST_ONLY_WOULD_CROSS,
        ),
        (
            _failure(new_order_failure_reason="INVALID_LIMIT_PRICE_POST_ONLY"),
            RejectReason.POST_ONLY_WOULD_CROSS,
        ),
        (
            _failure(error="INSUFFICIENT_FUND", preview_failure_reason="PREVIEW_INSUFFICIENT_FUND"),
            RejectReason.INSUFFICIENT_FUND,
        ),
        (
            _failure(
                error="UNKNOWN_FAILURE_REASON", preview_failure_reason="PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"
            ),
            RejectReason.NOTIONAL_TOO_SMALL,
        ),
        (_failure(error="INVALID_PRICE_PRECISION"), RejectReason.INVALID_PRICE_PRECISION),
        (_failure(error="END_TIME_IS_IN_THE_PAST"), RejectReason.END_TIME_IN_PAST),
        (_failure(error="SOMETHING_NEW"), RejectReason.UNKNOWN),
        ("coinbase createOrder() failed", RejectReason.UNKNOWN),
    ],
)
def test_coinbase_failure_reasons_map_to_domain_reasons(message: str, reason: RejectReason) -> None:
    assert reject_reason_of(failure_codes(json_in_message(message)), COINBASE) is reason


# -- order reports ---------------------------------------------------------------------------------
def _order(status: str, config: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "order_id": "o-1",
        "client_order_id": "c-1",
        "product_id": "PENGU-USD",
        "side": "SELL",
        "status": status,
        "order_configuration": config
        or {
            "limit_limit_gtd": {
                "base_size": "100",
                "limit_price": "0.014600",
                "end_time": "2024-01-15T10:30:25.500Z",
                "post_only": True,
            }
        },
        "filled_size": "40",
        "filled_value": "0.584",
        "total_fees": "0.003504",
        "created_time": "2024-01-15T10:30:00.123456789Z",
    }


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("PENDING", OrderStatus.PENDING),
        ("QUEUED", OrderStatus.QUEUED),
        ("OPEN", OrderStatus.OPEN),
        ("EDIT_QUEUED", OrderStatus.OPEN),
        ("CANCEL_QUEUED", OrderStatus.CANCEL_QUEUED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("EXPIRED", OrderStatus.EXPIRED),
        ("FAILED", OrderStatus.FAILED),
        ("FILLED", OrderStatus.FILLED),
        ("UNKNOWN_ORDER_STATUS", OrderStatus.PENDING),  # not terminal: keep watching
    ],
)
def test_coinbase_statuses_are_read_from_the_raw_order(raw: str, status: OrderStatus) -> None:
    assert coinbase_order_report(_order(raw), COINBASE.status_map).status is status


def test_coinbase_order_report_keeps_the_exact_decimal_strings() -> None:
    report = coinbase_order_report(_order("OPEN"), COINBASE.status_map)
    assert report.order_type is OrderType.POST_ONLY_GTD
    assert (report.size, report.limit_price) == (Decimal(100), Decimal("0.014600"))
    assert (report.filled_size, report.filled_value, report.total_fees) == (
        Decimal(40),
        Decimal("0.584"),
        Decimal("0.003504"),
    )
    assert report.end_time == pytest.approx(epoch_of_rfc3339("2024-01-15T10:30:25.5Z"))
    ioc = coinbase_order_report(
        _order("CANCELLED", {"sor_limit_ioc": {"base_size": "10", "limit_price": "0.0144"}}),
        COINBASE.status_map,
    )
    assert (ioc.order_type, ioc.end_time) == (OrderType.LIMIT_IOC, None)


def test_rfc3339_round_trips_at_millisecond_precision_and_reads_nanoseconds() -> None:
    assert rfc3339_of_epoch(1_705_314_625.25) == "2024-01-15T10:30:25.250Z"
    assert epoch_of_rfc3339(rfc3339_of_epoch(1_705_314_625.25)) == 1_705_314_625.25
    assert epoch_of_rfc3339("2024-01-15T10:30:25.250000001Z") == pytest.approx(1_705_314_625.25)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ccxt_async.RateLimitExceeded("coinbase GET 429 <html>"), FailureKind.RATE_LIMITED),
        (ccxt_async.DDoSProtection("coinbase"), FailureKind.RATE_LIMITED),
        (ccxt_async.RequestTimeout("coinbase POST /orders"), FailureKind.TRANSIENT),
        (ccxt_async.ExchangeNotAvailable("coinbase 503"), FailureKind.TRANSIENT),
        (ccxt_async.AuthenticationError("coinbase 401 Unauthorized"), FailureKind.AUTHENTICATION),
        (
            ccxt_async.ExchangeError(
                'coinbase {"error":"NOT_FOUND","message":"order with this orderID was not found"}'
            ),
            FailureKind.NOT_FOUND,
        ),
        (ccxt_async.InsufficientFunds(_failure(error="INSUFFICIENT_FUND")), FailureKind.REFUSED),
        (ccxt_async.BadRequest('coinbase {"error":"INVALID_ARGUMENT"}'), FailureKind.REFUSED),
    ],
)
def test_ccxt_errors_are_classified_by_what_the_caller_must_do(error: Exception, kind: FailureKind) -> None:
    failure = classify(error, Redactor())
    assert failure is not None and failure.kind is kind


def test_non_venue_errors_are_not_classified() -> None:
    assert classify(KeyError("x"), Redactor()) is None


# -- credentials -----------------------------------------------------------------------------------
def test_credentials_from_the_environment_accept_escaped_newlines() -> None:
    pem = _pem()
    env = {
        "COINBASE_API_KEY_NAME": "organizations/o/apiKeys/k",
        "COINBASE_API_PRIVATE_KEY": pem.replace("\n", "\\n"),
    }
    credentials = load_credentials(env=env)
    assert credentials.key_name == "organizations/o/apiKeys/k"
    assert credentials.private_key.get_secret_value() == pem.strip() + "\n"


def test_missing_environment_credentials_are_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="COINBASE_API_KEY_NAME"):
        load_credentials(env={})


def test_redactor_scrubs_the_key_escaped_or_not_and_bearer_tokens() -> None:
    pem = _pem()
    credentials = load_credentials(env={"COINBASE_API_KEY_NAME": "k", "COINBASE_API_PRIVATE_KEY": pem})
    redact = Redactor(credentials)
    line = pem.splitlines()[1]
    text = redact(f"a {pem} b {pem!r} c {line} {{'Authorization': 'Bearer eyJ0eXAi.eyJzdWIi.c2ln'}}")
    assert line not in text and "BEGIN EC PRIVATE KEY" not in text
    assert "eyJ0eXAi" not in text and "Bearer <redacted>" in text


# -- the capability table --------------------------------------------------------------------------
def test_coinbase_row_states_its_quirks() -> None:
    caps = capabilities_for("coinbase")
    assert caps is COINBASE
    assert caps.client_id_param == "client_order_id"
    assert dict(caps.post_only_params) == {"postOnly": True}
    assert caps.gtd is GtdStyle.END_TIME_RFC3339 and caps.gtd_end_time_param == "end_time"
    assert dict(caps.ioc_params) == {"timeInForce": "IOC"}
    assert caps.cancel is CancelStyle.COINBASE_BATCH
    assert caps.client_id_lookup is ClientIdLookup.LIST_RECENT_ORDERS
    assert (caps.private_budget.max_requests, caps.public_budget.max_requests) == (30, 10)


def test_other_exchanges_get_the_generic_unified_row_and_construct_offline() -> None:
    caps = capabilities_for("kraken")
    assert caps.dialect is PayloadDialect.UNIFIED and caps.gtd is GtdStyle.NONE
    exchange = CcxtExchange(clock=VirtualClock(), exchange_id="kraken")
    assert exchange.capabilities.exchange_id == "kraken"
    asyncio.run(exchange.close())


def test_an_exchange_ccxt_does_not_know_is_refused() -> None:
    with pytest.raises(MakerfirstError, match="no_such_venue"):
        CcxtExchange(clock=VirtualClock(), exchange_id="no_such_venue")
