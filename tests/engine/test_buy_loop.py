"""Rebalancing buys run through the same loop: maker-first at best ask − cushion, never a taker."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from makerfirst.algorithms.twap import LoopRules
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import Liquidity, Side
from makerfirst.execution.engine import AttemptKind, ExecutionEngine
from makerfirst.execution.twap_loop import TwapLoop
from simkit import BTC, policy_with, synthetic_exchange


def buy(clock: VirtualClock, usd: str, size: str) -> tuple[object, object]:
    exchange = synthetic_exchange(clock, "liquid", product=BTC, price="95000", balances={"USD": usd})
    engine = ExecutionEngine(exchange, clock, policy_with())
    report = asyncio.run(
        TwapLoop(engine, exchange, clock).run(
            TradeIntent("BTC-USD", SizeBase(Decimal(size)), Purpose.NORMAL, Side.BUY)
        )
    )
    return exchange, report


def test_a_normal_buy_rests_below_the_ask_and_fills_as_a_maker(clock: VirtualClock) -> None:
    exchange, report = buy(clock, "1000", "0.005")
    assert report.completed  # type: ignore[attr-defined]
    for attempt in report.attempts:  # type: ignore[attr-defined]
        assert attempt.kind is AttemptKind.MAKER and attempt.side is Side.BUY
        assert attempt.price < attempt.book.best_ask
    assert all(f.liquidity is Liquidity.MAKER for f in exchange.all_fills())  # type: ignore[attr-defined]
    assert asyncio.run(exchange.get_balances())["BTC"] == Decimal("0.005")  # type: ignore[attr-defined]


def test_a_buy_never_spends_more_quote_than_it_has(clock: VirtualClock) -> None:
    exchange, report = buy(clock, "100", "0.005")  # $100 buys ~0.00104 BTC, not 0.005
    assert report.requested_size < Decimal("0.0011")  # type: ignore[attr-defined]
    assert asyncio.run(exchange.get_balances())["USD"] >= 0  # type: ignore[attr-defined]


def test_a_purge_never_buys() -> None:
    with pytest.raises(ValueError, match="only sells"):
        LoopRules.for_purpose(Purpose.PURGE, policy_with(), Side.BUY)
