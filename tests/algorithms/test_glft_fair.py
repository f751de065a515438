"""GLFT off the fair touch (``glft.fair_price_sec``, the default): over a short dip the quote stays
where the fair ask is, untracked, while the books read keep the fair price current; it never
crosses, never goes beyond the fair ask, and a bid that rose past the fair price is a quote at
bid + 1, not a give-up. Near the deadline the attempts shorten, and the grid solver stays stable
on a curve that fills at the touch many times a second."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.algorithms import twap
from makerfirst.algorithms.glft import FillCurve, solve_grid
from makerfirst.algorithms.glft_policy import Glft, GlftSettings
from makerfirst.algorithms.sell_policies import PolicyView
from makerfirst.algorithms.touch_history import TouchHistory
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose
from simkit import PENGU, policy_with

D = Decimal
TICK = PENGU.price_increment
CURVE = FillCurve("PENGU-USD", 0.2, 1.0, 0.1, 10.0, 1_000, 50, (0.1, 0.4), (0.5, 2.0))
FAIR = GlftSettings(quote_grid=False, fair_price_sec=30.0)
BOOK_ONLY = replace(FAIR, fair_price_sec=0.0)


def book(bid: int, ask: int) -> OrderBook:
    """A book with its touch in ticks."""
    return OrderBook("PENGU-USD", (Level(bid * TICK, D(5_000)),), (Level(ask * TICK, D(5_000)),), 0.0)


def view(now_book: OrderBook, touches: TouchHistory | None, *, now: float = 30.0) -> PolicyView:
    config = policy_with()
    rules = twap.LoopRules.for_purpose(Purpose.PURGE, config)
    state = twap.start(D(1116), rules)
    return PolicyView(state, PENGU, now_book, rules, config, now, 0.0, 120.0, touches)


def calm_then(last: OrderBook, *, calm: OrderBook | None = None, seconds: int = 3) -> TouchHistory:
    """27 s of a calm 14500/14520 touch, then ``seconds`` of ``last``."""
    calm = calm or book(14_500, 14_520)
    touches = TouchHistory()
    for t in range(30 - seconds):
        touches.record(float(t), calm)
    for t in range(30 - seconds, 31):
        touches.record(float(t), last)
    return touches


def test_over_a_dip_the_quote_stays_at_the_fair_price_and_rests_untracked() -> None:
    dip = book(14_400, 14_404)
    touches = calm_then(dip)
    fair = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(dip, touches))
    assert isinstance(fair, twap.PlaceMakerSlice)
    price = 14_400 + fair.cushion_ticks
    assert 14_404 < price <= 14_520  # above the dipped ask, never beyond the fair ask
    assert fair.tracking is None and fair.watch_sec == 1.0  # read every second, never re-placed
    assert fair.reason is not None and fair.reason.distance_ticks == fair.reason.distance_spreads * 20
    # The same book without the fair price: at most the dipped ask, tracked (chasing the dip).
    now = Glft({"PENGU-USD": CURVE}, BOOK_ONLY).decide(view(dip, touches))
    assert isinstance(now, twap.PlaceMakerSlice)
    assert 14_400 + now.cushion_ticks <= 14_404 and now.tracking is not None and now.watch_sec is None


def test_a_fall_that_lasts_moves_the_quote_down_with_it() -> None:
    fallen = book(14_400, 14_420)
    held = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(fallen, calm_then(fallen, seconds=20)))
    assert isinstance(held, twap.PlaceMakerSlice)
    assert 14_400 < 14_400 + held.cushion_ticks <= 14_420  # quoted off the fallen touch


def test_a_bid_above_the_fair_price_is_quoted_at_bid_plus_one_not_given_up() -> None:
    jumped = book(14_600, 14_602)  # 5 spreads up for 3 s: the fair ask (14520) is under the bid
    decision = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(jumped, calm_then(jumped)))
    assert isinstance(decision, twap.PlaceMakerSlice) and decision.cushion_ticks == 1


def test_without_touches_or_with_the_key_off_it_quotes_off_the_book() -> None:
    calm = book(14_500, 14_520)
    off = Glft({"PENGU-USD": CURVE}, BOOK_ONLY).decide(view(calm, calm_then(calm)))
    no_touches = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(calm, None))
    assert off == no_touches and isinstance(off, twap.PlaceMakerSlice) and off.tracking is not None


@settings(max_examples=150, deadline=None)
@given(
    calm_bid=st.integers(14_000, 15_000), calm_spread=st.integers(1, 60),
    now_bid=st.integers(13_800, 15_200), now_spread=st.integers(1, 60), seconds=st.integers(1, 30),
    now=st.floats(0.0, 125.0),
)  # fmt: skip
def test_off_the_fair_touch_a_quote_never_crosses_nor_goes_beyond_the_fair_ask(
    calm_bid: int, calm_spread: int, now_bid: int, now_spread: int, seconds: int, now: float
) -> None:
    current = book(now_bid, now_bid + now_spread)
    touches = calm_then(current, calm=book(calm_bid, calm_bid + calm_spread), seconds=seconds)
    fair = touches.fair(30.0, 30.0)
    assert fair is not None
    decision = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(current, touches, now=max(now, 30.0)))
    if isinstance(decision, twap.PlaceMakerSlice):
        price = (now_bid + decision.cushion_ticks) * TICK
        assert price > current.best_bid  # never crossing
        assert price <= max(current.best_ask, PENGU.price_ceil(fair.ask))
        assert decision.tracking is None and decision.ttl_sec is not None


def test_near_the_deadline_an_attempt_rests_at_most_half_the_time_left() -> None:
    calm = book(14_500, 14_520)
    ttls = []
    for now in (30.0, 90.0, 100.0, 110.0):
        decision = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(calm, calm_then(calm), now=now))
        ttls.append(decision.ttl_sec if isinstance(decision, twap.PlaceMakerSlice) else None)
    # 25 s while there is time; then half of what is left before the taker's reserve (1 s); with
    # less than min_rest_sec (3 s) left, the design note's end.
    assert ttls == [25, 15, 10, 5]
    late = Glft({"PENGU-USD": CURVE}, FAIR).decide(view(calm, calm_then(calm), now=117.5))
    assert isinstance(late, twap.PlaceTakerFallback)


def test_the_grid_solver_is_stable_on_a_curve_that_fills_at_the_touch_many_times_a_second() -> None:
    # ~48 fills/s a tick above the bid, 0.05/s at the ask, none beyond 1.5 spreads (NMR-EUR's
    # grid when its inside points were shrunk toward the exponential extrapolated inward).
    # Explicit Euler at 0.3 s steps overshot there, and the farthest, never-filled quote
    # (4 spreads) came out best; the capped step keeps to the ask, as a 50× finer step does.
    rates = [(-0.5, 47.6), (-0.25, 4.08), (0.0, 0.635), (0.25, 0.34), (0.375, 0.244), (0.5, 0.049),
             (0.75, 0.0026), (1.0, 0.0007), (1.5, 0.0), (4.0, 0.0)]  # fmt: skip
    kwargs = {"gamma": 1.5, "sigma": 0.033, "mu": 0.0, "b": 5.0, "q": 1}
    for tau in (120.0, 20.0, 5.0):
        coarse, _ = solve_grid(rates, tau=tau, **kwargs)
        fine, _ = solve_grid(rates, tau=tau, step=0.005, **kwargs)
        assert rates[coarse][0] <= 0.5 and rates[coarse][1] > 0.0
        assert coarse == fine
