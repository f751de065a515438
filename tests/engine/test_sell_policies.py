"""One policy interface for the loop: policies see the deadline, choose cushion and TTL per attempt,
re-quote within an attempt; the loop reports events, and their wording lives outside it."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from makerfirst.algorithms import twap
from makerfirst.algorithms.sell_policies import FixedTtl, LimitThenMarket, MarketSell, PolicyView
from makerfirst.algorithms.shortfall import forced_residual_value, implementation_shortfall_bps
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import OrderType, Side
from makerfirst.execution.engine import AttemptKind, ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.loop_events import (
    AggressivePurge,
    LoopEvent,
    LoopFinished,
    LoopStarted,
    MakerSliceEnded,
    TakerEnded,
    TakerForced,
    log_event,
)
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from makerfirst.policy import Policy
from simkit import policy_with, synthetic_exchange

PURGE = "portfolio_management.purge_execution"


class Recording:
    """One maker attempt of 20 s re-quoted every 5 s, then stop; records what it was shown."""

    name = "recording"

    def __init__(self) -> None:
        self.views: list[PolicyView] = []

    def decide(self, view: PolicyView) -> twap.Decision:
        self.views.append(view)
        if view.state.maker_attempts >= 1:
            return twap.Finish(twap.Outcome.MAX_ATTEMPTS, view.state.remaining * view.book.mid)
        return view.maker(cushion_ticks=3, ttl_sec=20, requote_sec=5)


def run(
    clock: VirtualClock,
    policy: object,
    *,
    market: str = "dead",
    deadline: float | None = None,
    config: Policy | None = None,
    events: list[LoopEvent] | None = None,
) -> TwapReport:
    exchange = synthetic_exchange(clock, market)
    engine = ExecutionEngine(exchange, clock, config or policy_with(), ClientOrderIds(7))
    sink = events.append if events is not None else log_event
    loop = TwapLoop(engine, exchange, clock, policy=policy, on_event=sink)  # type: ignore[arg-type]
    intent = TradeIntent("PENGU-USD", SizeBase(Decimal(1116)), Purpose.PURGE)
    return asyncio.run(loop.run(intent, deadline=deadline))


def test_a_policy_sees_the_deadline_and_requotes_within_one_attempt(clock: VirtualClock) -> None:
    policy = Recording()
    deadline = clock.now() + 5 + 300.0
    report = run(clock, policy, deadline=deadline)
    assert policy.views[0].deadline == deadline
    first_left = policy.views[0].time_left_sec
    assert first_left is not None and 299 < first_left <= 300
    # One 20 s attempt, re-priced every 5 s: four orders, each 3 ticks over the bid, and one attempt.
    assert [a.ttl_sec for a in report.attempts] == [5, 5, 5, 5]
    assert all(a.price == a.book.best_bid + 3 * Decimal("0.000001") for a in report.attempts)
    assert policy.views[-1].state.maker_attempts == 1
    assert report.outcome is twap.Outcome.MAX_ATTEMPTS


def test_the_loop_reports_events_and_logs_nothing_itself(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="makerfirst.twap")
    events: list[LoopEvent] = []
    from makerfirst.algorithms.sell_policies import DesignNote  # noqa: PLC0415

    run(clock, DesignNote(), events=events)
    kinds = [type(e) for e in events]
    assert kinds == [
        LoopStarted, MakerSliceEnded, MakerSliceEnded, AggressivePurge, TakerForced, TakerEnded, LoopFinished,
    ]  # fmt: skip
    assert not [r for r in caplog.records if r.name == "makerfirst.twap"]  # the wording is the sink's
    for event in events:
        log_event(event)
    lines = [r.getMessage() for r in caplog.records if r.name == "makerfirst.twap"]
    assert lines[0] == "TWAP purge start: 1116 PENGU (~$16.18)"
    assert lines[1] == "Slice 1: post-only @ $0.014493, TTL=25s → no fill → canceled"
    assert lines[-1] == "Purge complete"


def test_the_reference_policies_through_the_one_interface(clock: VirtualClock) -> None:
    sold = run(clock, MarketSell())
    assert [a.kind for a in sold.attempts] == [AttemptKind.TAKER] and sold.completed

    fixed = run(
        VirtualClock(start=1_000.0),
        FixedTtl(),
        config=policy_with(f"{PURGE}.maker_first_ttl_sec=6", f"{PURGE}.max_slices=3"),
    )
    assert [a.ttl_sec for a in fixed.attempts] == [6, 6, 6] and fixed.outcome is twap.Outcome.MAX_ATTEMPTS

    # Freqtrade-like: at the ask for its timeout, twice, then a market exit.
    exits = run(
        VirtualClock(start=1_000.0), LimitThenMarket(), config=policy_with(f"{PURGE}.maker_first_ttl_sec=30")
    )
    makers = [a for a in exits.attempts if a.kind is AttemptKind.MAKER]
    assert [a.ttl_sec for a in makers] == [30, 30]
    assert all(a.price == a.book.best_ask for a in makers)
    assert exits.attempts[-1].order_type is OrderType.LIMIT_IOC and exits.completed


def test_one_function_computes_the_shortfall_the_loop_reports(clock: VirtualClock) -> None:
    # One slice, so at most one attempt without a fill (the policy model refuses more).
    one_slice = policy_with(f"{PURGE}.max_slices=1", f"{PURGE}.max_consecutive_no_fill=1")
    report = run(clock, FixedTtl(), config=one_slice)
    assert report.filled_size == 0 and report.remaining_size == Decimal(1116)
    # Nothing sold: the whole size is charged as a forced taker sale into the final bids.
    exchange_book = report.attempts[-1].book
    residual = forced_residual_value(exchange_book, Side.SELL, report.remaining_size, Decimal("0.012"))
    expected = implementation_shortfall_bps(
        Side.SELL, report.requested_size, report.arrival_mid, filled_value=Decimal(0), fees=Decimal(0),
        residual_value=residual,
    )  # fmt: skip
    assert report.implementation_shortfall_bps == expected
    bought = implementation_shortfall_bps(
        Side.BUY,
        Decimal(1),
        Decimal(100),
        filled_value=Decimal(101),
        fees=Decimal(1),
        residual_value=Decimal(0),
    )
    assert bought == Decimal(200)  # paid 102 for what was worth 100 at arrival: 2 %
