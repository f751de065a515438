"""The loop with GLFT off the fair touch, on a scripted book that dips for three seconds: the quote
rests through the dip where it was (one order, read every second, never re-placed) and sells at
its price when a buyer comes after the book recovered; quoting off the book of the moment follows
the dip down and sells in it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from makerfirst.adapters.sim.driver import Action, Cancel, MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.algorithms import twap
from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft, GlftSettings
from makerfirst.algorithms.sell_policies import PolicyView
from makerfirst.algorithms.twap import Outcome
from makerfirst.clock import VirtualClock
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import Side
from makerfirst.execution.engine import AttemptKind, ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from simkit import make_exchange, policy_with

D = Decimal
CURVE = FillCurve("PENGU-USD", 0.2, 4.0, 0.1, 10.0, 1_000, 50, (0.1, 0.4), (2.0, 8.0))
FAIR = GlftSettings(quote_grid=False, fair_price_sec=30.0)
DIPPING_BOOK: list[tuple[float, Action]] = [
    (1_000.0, PlaceLimit("bid", Side.BUY, 14_500, 100_000)),
    (1_000.0, PlaceLimit("ask", Side.SELL, 14_530, 1_000)),
    (1_000.0, PlaceLimit("deep_ask", Side.SELL, 14_600, 100_000)),
    # 1005-1008: a sweep takes the bids 100 ticks down and a seller follows it there.
    (1_005.0, Cancel("bid")),
    (1_005.0, PlaceLimit("dip_bid", Side.BUY, 14_400, 100_000)),
    (1_005.0, PlaceLimit("dip_ask", Side.SELL, 14_404, 100)),
    (1_008.0, Cancel("dip_ask")),
    (1_008.0, Cancel("dip_bid")),
    (1_008.0, PlaceLimit("bid_back", Side.BUY, 14_500, 100_000)),
    (1_012.0, MarketOrder("buyer", Side.BUY, 5_000)),
]


class Spy:
    """The policy, recording how many touches each decision saw."""

    def __init__(self, policy: Glft) -> None:
        self.policy, self.touches_seen, self.fair_asks = policy, list[int](), list[Decimal]()

    def decide(self, view: PolicyView) -> twap.Decision:
        assert view.touches is not None
        self.touches_seen.append(len(view.touches))
        fair = view.touches.fair(view.now, 30.0)
        assert fair is not None
        self.fair_asks.append(fair.ask)
        return self.policy.decide(view)


def sell(clock: VirtualClock, settings: GlftSettings) -> tuple[TwapReport, Spy]:
    exchange = make_exchange(clock, {"PENGU": "1116", "USD": "0"}, latency=0.05)
    exchange.attach_market("PENGU-USD", ScriptedMarket(DIPPING_BOOK))
    engine = ExecutionEngine(exchange, clock, policy_with(), ClientOrderIds(7))
    spy = Spy(Glft({"PENGU-USD": CURVE}, settings))
    loop = TwapLoop(engine, exchange, clock, policy=spy)
    report = asyncio.run(
        loop.run(TradeIntent("PENGU-USD", SizeBase(D(1116)), Purpose.PURGE), deadline=1_120.0)
    )
    return report, spy


def test_off_the_fair_touch_the_quote_rests_through_the_dip_and_sells_at_its_price(
    clock: VirtualClock,
) -> None:
    report, spy = sell(clock, FAIR)
    makers = [a for a in report.attempts if a.kind is AttemptKind.MAKER]
    assert report.outcome is Outcome.COMPLETE and len(makers) == 1  # never re-placed
    order = makers[0]
    assert order.price is not None and order.price > D("0.014404")  # above the dip's ask
    assert order.filled_size == D(1116) and order.ended_at >= 1_012.0  # sold to the buyer, after
    # The books read while it rested (one a second) reached the next decision, without our own
    # order in them: the fair ask is the market's, not our quote read back.
    assert spy.touches_seen[0] == 2 and spy.touches_seen[-1] >= 12
    assert order.price < D("0.014530") and spy.fair_asks[-1] == D("0.014530")


def test_off_the_book_of_the_moment_the_quote_follows_the_dip_and_sells_in_it(clock: VirtualClock) -> None:
    report, _ = sell(clock, replace(FAIR, fair_price_sec=0.0))
    makers = [a for a in report.attempts if a.kind is AttemptKind.MAKER]
    assert report.outcome is Outcome.COMPLETE and len(makers) >= 2  # tracked into the dip
    # Re-placed in the dip (its cushion over the dipped bid), it is sold there when the bids come
    # back: below the bid the purge arrived at.
    sold = [a.price for a in makers if a.filled_size > 0]
    assert sold and all(p is not None and p < D("0.014500") for p in sold)
