"""Tracking without chasing undercuts (``glft.chase_undercuts: false``): an ask that undercuts a
resting quote is left to the re-solve, while a bid that rose, so that a better price is ours
without crossing, still re-places it. The shipped glft and ``tob`` chase, as before."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from makerfirst.algorithms import tob, twap
from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft, GlftSettings
from makerfirst.algorithms.sell_policies import PolicyView
from makerfirst.algorithms.touch_history import TouchHistory
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose
from makerfirst.domain.orders import Side
from makerfirst.execution.engine import LeaveEarly
from makerfirst.execution.twap_loop import TwapLoop
from simkit import PENGU, policy_with

D = Decimal
PURGE = "portfolio_management.purge_execution"
TICK = PENGU.price_increment
BID = D("0.014500")
RESTING = BID + 10 * TICK  # our ask, placed at bid + 10 ticks


def leave_early(decision: twap.PlaceMakerSlice) -> LeaveEarly | None:
    """The loop's tracking for a sell's first order, on a clock standing still."""
    return TwapLoop._leave_early(decision, PENGU, Side.SELL, 0, touches=TouchHistory(), now=lambda: 0.0)


def book(bid: Decimal, ask: Decimal) -> OrderBook:
    return OrderBook("PENGU-USD", (Level(bid, D(5_000)),), (Level(ask, D(5_000)),), 0.0)


UNDERCUT = book(BID - 8 * TICK, BID + 4 * TICK)  # the market fell: a lower ask, a lower bid
BID_ROSE = book(BID + 3 * TICK, RESTING)  # bid + 10 ticks is now 3 ticks above our ask


def test_without_chasing_an_undercut_leaves_the_order_and_a_rising_bid_still_lifts_it() -> None:
    assert tob.displaced(UNDERCUT, Side.SELL, RESTING, 10, PENGU)
    assert not tob.displaced(UNDERCUT, Side.SELL, RESTING, 10, PENGU, chase_undercuts=False)
    assert tob.displaced(BID_ROSE, Side.SELL, RESTING, 10, PENGU, chase_undercuts=False)
    # A buy mirrors it: a higher bid is an undercut, a lower ask lifts the buy's price rule.
    buy_at = D("0.014400")
    higher_bid = book(buy_at + 2 * TICK, buy_at + 20 * TICK)
    assert tob.displaced(higher_bid, Side.BUY, buy_at, 10, PENGU)
    assert not tob.displaced(higher_bid, Side.BUY, buy_at, 10, PENGU, chase_undercuts=False)
    lower_ask = book(buy_at - 5 * TICK, buy_at + 7 * TICK)
    assert tob.displaced(lower_ask, Side.BUY, buy_at, 10, PENGU, chase_undercuts=False)


def glft_slice(*overrides: str) -> twap.PlaceMakerSlice:
    config = policy_with(*overrides)
    rules = twap.LoopRules.for_purpose(Purpose.PURGE, config)
    curve = FillCurve("PENGU-USD", 0.2, 1.0, 0.1, 10.0, 1_000, 50, (0.1, 0.4), (0.5, 2.0))
    view = PolicyView(
        twap.start(D(1116), rules), PENGU, book(BID, BID + 10 * TICK), rules, config, 0.0, 0.0, 120.0
    )
    decision = Glft({"PENGU-USD": curve}).decide(view)
    assert isinstance(decision, twap.PlaceMakerSlice)
    return decision


def test_glft_chases_undercuts_unless_its_key_says_upward_only() -> None:
    assert GlftSettings().tracking is not None and GlftSettings().tracking.chase_undercuts
    shipped = glft_slice()
    assert shipped.tracking is not None and shipped.tracking.chase_undercuts
    chase = leave_early(shipped)
    assert chase is not None and chase.should_leave(UNDERCUT, BID + shipped.cushion_ticks * TICK)
    upward = glft_slice(f"{PURGE}.glft.chase_undercuts=false")
    assert upward.tracking is not None and not upward.tracking.chase_undercuts
    leave = leave_early(upward)
    assert leave is not None
    price = BID + upward.cushion_ticks * TICK
    assert not leave.should_leave(UNDERCUT, price)
    assert leave.should_leave(book(BID + 3 * TICK, price), price)  # the bid rose: lift it


def test_tob_keeps_chasing_undercuts() -> None:
    assert tob.Tracking().chase_undercuts
    tracked = replace(glft_slice(), tracking=tob.Tracking())
    leave = leave_early(tracked)
    assert leave is not None and leave.should_leave(UNDERCUT, BID + tracked.cushion_ticks * TICK)
