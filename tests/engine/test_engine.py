"""The execution engine on scripted markets: re-quotes, races, GTD backup, guards."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from makerfirst.adapters.sim.driver import Action, Cancel, MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.algorithms.guards import GuardBypass
from makerfirst.algorithms.twap import Outcome
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose, SizeBase
from makerfirst.domain.orders import OrderType, Side
from makerfirst.execution.engine import AttemptKind, AttemptOutcome, ExecutionEngine
from simkit import make_exchange, policy_with, sell

D = Decimal
QUIET_BOOK = [
    (1_000.0, PlaceLimit("bid", Side.BUY, 14_500, 100_000)),
    (1_000.0, PlaceLimit("ask", Side.SELL, 14_530, 100_000)),
]


def scripted(clock: VirtualClock, script: list, **kw):  # type: ignore[no-untyped-def]
    exchange = make_exchange(clock, {"PENGU": "1116", "USD": "0"}, **kw)
    exchange.attach_market("PENGU-USD", ScriptedMarket(QUIET_BOOK + script))
    return exchange


def test_post_only_rejects_widen_the_cushion_one_tick_at_a_time_and_no_further(clock: VirtualClock) -> None:
    # A market that climbs 4 ticks every 10 ms: every post-only sell priced from the last book
    # arrives (50 ms later) below the new bid and is rejected.
    climb: list[tuple[float, Action]] = []
    for i in range(1, 2_000):
        t = 1_000.0 + 0.01 * i
        climb += [
            (t, PlaceLimit(f"ask{i}", Side.SELL, 14_530 + 4 * i, 100_000)),
            (t, Cancel("ask" if i == 1 else f"ask{i - 1}")),
            (t, PlaceLimit(f"bid{i}", Side.BUY, 14_500 + 4 * i, 100)),
        ]
    exchange = scripted(clock, climb, latency=0.05)
    report = sell(exchange, clock, policy_with(), "1116")
    makers = [a for a in report.attempts if a.kind is AttemptKind.MAKER]
    assert all(a.outcome is AttemptOutcome.REJECTED_POST_ONLY for a in makers)
    cushions = [(a.price - a.book.best_bid) / D("0.000001") for a in makers if a.price is not None]
    # Widened per reject and capped at max_cushion_ticks; the two rejects at the cap count as the
    # two tries without a fill (max_consecutive_no_fill) after which the taker gets out.
    assert cushions == [1, 2, 3, 3]
    assert report.attempts[-1].kind is AttemptKind.TAKER
    assert report.outcome is Outcome.COMPLETE


def test_a_fill_that_races_the_cancel_is_counted_once(clock: VirtualClock) -> None:
    # Our sell rests at 0.014501 (bid + 1 tick); TTL 25 s ends at t=1025, the cancel waits in
    # CANCEL_QUEUED for 0.5 s, and a buyer takes 400 PENGU at t=1025.2 — after we asked to cancel.
    exchange = scripted(clock, [(1_025.2, MarketOrder("buyer", Side.BUY, 400))], cancel_queue=0.5)
    report = sell(
        exchange, clock, policy_with("portfolio_management.purge_execution.max_consecutive_no_fill=1"), "1116"
    )
    first = report.attempts[0]
    assert first.outcome is AttemptOutcome.PARTIAL and first.filled_size == D(400)
    ours = [f for f in exchange.all_fills() if f.order_id == first.order_id]
    assert sum(f.size for f in ours) == D(400)
    assert report.filled_size == sum(f.size for f in exchange.all_fills())
    assert report.filled_size + report.remaining_size == D(1116)
    assert asyncio.run(exchange.get_balances())["PENGU"] == report.remaining_size


def test_maker_orders_are_gtd_at_ttl_plus_grace(clock: VirtualClock) -> None:
    exchange = scripted(clock, [])
    report = sell(
        exchange,
        clock,
        policy_with("portfolio_management.purge_execution.allow_taker_fallback=false"),
        "1116",
    )
    for attempt, order in zip(report.attempts, exchange.all_orders(), strict=True):
        assert order.order_type is OrderType.POST_ONLY_GTD
        assert attempt.ttl_sec is not None and order.end_time is not None
        assert order.end_time == pytest.approx(attempt.started_at + attempt.ttl_sec + 5)
        assert order.status.is_terminal


def test_ttl_follows_the_purpose_not_the_client_id(clock: VirtualClock) -> None:
    exchange = scripted(clock, [])
    engine = ExecutionEngine(exchange, clock, policy_with())
    attempt = asyncio.run(
        engine.execute(
            symbol="PENGU-USD",
            side=Side.SELL,
            size=SizeBase(D(1116)),
            purpose=Purpose.NORMAL,
            client_order_id="purge_looks_like_a_purge",
        )
    )
    assert attempt.ttl_sec is not None and 12 <= attempt.ttl_sec <= 15


def test_only_the_taker_fallback_bypasses_guards_and_it_is_logged(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="makerfirst")
    # A 1 bps slippage budget refuses both maker slices (they rest ~10 bps under the mid) …
    policy = policy_with("guards.slippage_budget_bps=1")
    report = sell(scripted(clock, []), clock, policy, "1116")
    assert [a.outcome for a in report.attempts[:2]] == [AttemptOutcome.BLOCKED, AttemptOutcome.BLOCKED]
    # … and the taker, which the design note lets skip all three guards, still gets out.
    assert report.attempts[2].kind is AttemptKind.TAKER and report.outcome is Outcome.COMPLETE
    bypass = [r for r in caplog.records if getattr(r, "event", "") == "guard_bypass"]
    assert len(bypass) == 1 and getattr(bypass[0], "bypass", "") == GuardBypass.TAKER_FALLBACK.name


def test_a_failed_order_cools_the_product_down_for_normal_orders(clock: VirtualClock) -> None:
    exchange = scripted(clock, [])
    engine = ExecutionEngine(exchange, clock, policy_with())

    def execute(size: str, purpose: Purpose = Purpose.NORMAL, **kw: object):  # type: ignore[no-untyped-def]
        return asyncio.run(
            engine.execute(symbol="PENGU-USD", side=Side.SELL, size=SizeBase(D(size)), purpose=purpose, **kw)  # type: ignore[arg-type]
        )

    assert execute("50").outcome is AttemptOutcome.REJECTED  # $0.73 is below the $1 minimum
    blocked = execute("1116")
    assert blocked.outcome is AttemptOutcome.BLOCKED and blocked.guard is not None
    assert blocked.guard.guard.value == "failed_order_cooldown"
    taker = execute(
        "1116", Purpose.PURGE, force_order_type=OrderType.LIMIT_IOC, bypass=GuardBypass.TAKER_FALLBACK
    )
    assert taker.outcome is AttemptOutcome.FILLED


def test_no_bids_at_all_blocks_instead_of_pricing_from_nothing(clock: VirtualClock) -> None:
    exchange = make_exchange(clock, {"PENGU": "1116"})
    exchange.attach_market("PENGU-USD", ScriptedMarket([(1_000.0, PlaceLimit("ask", Side.SELL, 14_530, 10))]))
    engine = ExecutionEngine(exchange, clock, policy_with())
    attempt = asyncio.run(
        engine.execute(symbol="PENGU-USD", side=Side.SELL, size=SizeBase(D(1116)), purpose=Purpose.PURGE)
    )
    assert attempt.outcome is AttemptOutcome.BLOCKED and exchange.all_orders() == []


def test_a_taker_remainder_orderable_at_the_bid_is_not_priced_under_the_minimum_by_the_cap(
    clock: VirtualClock,
) -> None:
    # 69 PENGU at the 0.014500 bid is $1.0005, over the $1 minimum; at the 1 % cap (0.014355) it
    # would be $0.99 and rejected. The IOC's limit is raised to the least price worth $1, 0.014493:
    # still through the bid, still inside the cap.
    engine = ExecutionEngine(scripted(clock, []), clock, policy_with())
    taker = asyncio.run(
        engine.execute(
            symbol="PENGU-USD", side=Side.SELL, size=SizeBase(D("69")), purpose=Purpose.PURGE,
            force_order_type=OrderType.LIMIT_IOC, bypass=GuardBypass.TAKER_FALLBACK,
        )
    )  # fmt: skip
    assert taker.outcome is AttemptOutcome.FILLED and taker.price == D("0.014493")
    # 60 PENGU is under the minimum even at the bid: priced at the cap as before (and rejected)
    dust = asyncio.run(
        engine.execute(
            symbol="PENGU-USD", side=Side.SELL, size=SizeBase(D("60")), purpose=Purpose.PURGE,
            force_order_type=OrderType.LIMIT_IOC, bypass=GuardBypass.TAKER_FALLBACK,
        )
    )  # fmt: skip
    assert dust.price == D("0.014355") and dust.outcome is AttemptOutcome.REJECTED
