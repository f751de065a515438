"""The GLFT policy's decisions: quotes on the tick grid between the bid and the ask (never
crossing, never behind the best ask), the design note's taker and finishes when the model gives up,
bounded attempts, and the design note's loop for a product without a curve."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.algorithms import twap
from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft, GlftSettings, give_up_spreads
from makerfirst.algorithms.sell_policies import DesignNote, PolicyView
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose
from makerfirst.execution.purge_policy import PurgesWith
from makerfirst.policy import Policy
from simkit import PENGU, policy_with

D = Decimal
PURGE = "portfolio_management.purge_execution"
TICK = PENGU.price_increment


def curve(a: float = 0.05, k: float = 1.5, sigma: float = 0.1) -> FillCurve:
    return FillCurve("PENGU-USD", a, k, sigma, 10.0, 1_000, 50, (a / 2, a * 2), (k / 2, k * 2))


def view(
    *,
    remaining: str = "1116",
    now: float = 0.0,
    deadline: float | None = 120.0,
    bid: str = "0.014500",
    spread_ticks: int = 10,
    config: Policy | None = None,
    attempts: int = 0,
) -> PolicyView:
    config = config or policy_with()
    rules = twap.LoopRules.for_purpose(Purpose.PURGE, config)
    ask = D(bid) + spread_ticks * TICK
    book = OrderBook("PENGU-USD", (Level(D(bid), D(5_000)), Level(D(bid) - 5 * TICK, D(50_000))),
                     (Level(ask, D(5_000)),), now)  # fmt: skip
    state = replace(twap.start(D(remaining), rules), maker_attempts=attempts)
    return PolicyView(state, PENGU, book, rules, config, now, 0.0, deadline)


@settings(max_examples=150, deadline=None)
@given(
    a=st.floats(1e-5, 5.0), k=st.floats(0.05, 20.0), sigma=st.floats(0.0, 2.0),
    now=st.floats(0.0, 125.0), spread=st.integers(1, 60), remaining=st.sampled_from(["1116", "90", "900000"]),
)  # fmt: skip
def test_a_quote_is_never_crossing_nor_behind_the_ask(
    a: float, k: float, sigma: float, now: float, spread: int, remaining: str
) -> None:
    v = view(remaining=remaining, now=now, spread_ticks=spread)
    decision = Glft({"PENGU-USD": curve(a, k, sigma)}).decide(v)
    if isinstance(decision, twap.PlaceMakerSlice):
        assert 1 <= decision.cushion_ticks <= spread  # bid + cushion: above the bid, at most the ask
        assert decision.ttl_sec is not None and now + decision.ttl_sec <= 120.0 + 1e-9
        assert decision.reason is not None and decision.reason.time_left_sec == max(0.0, 120.0 - now)
        assert decision.tracking is not None
    elif isinstance(decision, twap.PlaceTakerFallback):
        # Only the design note's one guarded IOC, only under its threshold.
        assert decision.fallback and decision.remaining_value_usd <= D(50)
    else:
        assert decision.outcome is twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD and remaining == "900000"


def test_with_time_left_it_quotes_and_at_the_deadline_it_takes_the_design_notes_taker() -> None:
    policy = Glft({"PENGU-USD": curve()})
    early = policy.decide(view(now=0.0))
    assert isinstance(early, twap.PlaceMakerSlice) and early.reason is not None
    assert early.reason.lots_left == 1 and early.reason.remaining == D(1116)
    late = policy.decide(view(now=119.0))
    assert isinstance(late, twap.PlaceTakerFallback) and late.fallback and late.size == D(1116)
    # More time, a quote at least as high (the single-lot solution rises with τ).
    later = policy.decide(view(now=60.0))
    assert isinstance(later, twap.PlaceMakerSlice) and later.cushion_ticks <= early.cushion_ticks


def test_above_the_threshold_or_without_the_taker_it_ends_as_the_design_note_does() -> None:
    policy = Glft({"PENGU-USD": curve()})
    big = policy.decide(view(remaining="900000", now=119.5))
    assert isinstance(big, twap.Finish) and big.outcome is twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD
    off = policy.decide(view(now=119.5, config=policy_with(f"{PURGE}.allow_taker_fallback=false")))
    assert isinstance(off, twap.Finish) and off.outcome is twap.Outcome.TAKER_FALLBACK_DISABLED


def test_attempts_are_bounded_by_max_slices() -> None:
    decision = Glft({"PENGU-USD": curve()}).decide(view(attempts=20))
    assert isinstance(decision, twap.PlaceTakerFallback)


def test_without_a_deadline_it_has_the_design_notes_patience() -> None:
    policy = Glft({"PENGU-USD": curve()})
    first = policy.decide(view(deadline=None, now=0.0))
    assert isinstance(first, twap.PlaceMakerSlice) and first.reason is not None
    assert first.reason.time_left_sec == 45.0  # 25 s + (2 − 1) × 20 s
    assert isinstance(policy.decide(view(deadline=None, now=44.0)), twap.PlaceTakerFallback)


def test_a_product_without_a_curve_gets_the_design_notes_loop() -> None:
    v = view()
    assert Glft({}).decide(v) == DesignNote().decide(v)


def test_the_give_up_cost_prices_half_spread_fee_gap_and_walk() -> None:
    v = view(spread_ticks=10)
    # One lot of 1116 fits in the 5000 at the bid: no walk. Half spread 0.5 + 0.6 % of the mid
    # (0.014505) over the 10-tick spread.
    expected = 0.5 + 0.006 * 0.014505 / 0.00001
    assert abs(give_up_spreads(v.book, D(1116), D("0.006")) - expected) < 1e-9
    walked = give_up_spreads(v.book, D(10_000), D("0.006"))  # half of it 5 ticks down: +2.5 ticks
    assert abs(walked - (expected + 0.25)) < 1e-9


def test_its_knobs_are_the_policys_keys() -> None:
    policy = Glft({"PENGU-USD": curve()})
    shipped = policy.decide(view())
    patient = policy.decide(view(config=policy_with(f"{PURGE}.glft.gamma=0.05")))
    averse = policy.decide(view(config=policy_with(f"{PURGE}.glft.gamma=20")))
    assert isinstance(shipped, twap.PlaceMakerSlice) and isinstance(patient, twap.PlaceMakerSlice)
    assert patient.reason is not None and shipped.reason is not None
    # More risk aversion, a quote nearer the bid (or the taker at once).
    assert patient.reason.distance_spreads > shipped.reason.distance_spreads
    assert not isinstance(averse, twap.PlaceMakerSlice) or (
        averse.reason is not None and averse.reason.distance_spreads < shipped.reason.distance_spreads
    )
    keyed = policy.decide(
        view(config=policy_with(f"{PURGE}.glft.requote_sec=4", f"{PURGE}.tracking.max_replaces=2"))
    )
    assert isinstance(keyed, twap.PlaceMakerSlice) and keyed.ttl_sec == 4
    assert keyed.tracking is not None and keyed.tracking.max_replaces == 2
    fees = policy.decide(view(config=policy_with(f"{PURGE}.glft.fee_gap_bps=0")))
    assert fees.reason is not None and fees.reason.give_up_spreads == 0.5  # half the spread, no fee gap


def test_a_product_without_a_curve_quotes_from_the_pooled_one_and_says_so_once() -> None:
    told: list[str] = []
    pooled = replace(curve(), product_id="pooled")
    policy = Glft({}, pooled=pooled, on_pooled=told.append)
    for _ in range(3):
        decision = policy.decide(view())
        assert isinstance(decision, twap.PlaceMakerSlice) and decision.reason is not None
    assert told == ["PENGU-USD"]


def test_a_running_bot_uses_it_for_purges_only() -> None:
    purges = PurgesWith(Glft({"PENGU-USD": curve()}))
    purge_view = view()
    assert purges.decide(purge_view) == Glft({"PENGU-USD": curve()}).decide(purge_view)
    normal = replace(purge_view, rules=twap.LoopRules.for_purpose(Purpose.NORMAL, purge_view.config))
    assert purges.decide(normal) == DesignNote().decide(normal)
    assert purges.name == "glft"


def test_it_never_takes_before_the_design_notes_first_attempt_as_a_maker() -> None:
    # A flow so thin the model would cross at once: until the purge has been a maker for
    # maker_first_ttl_sec (25 s), the most aggressive maker price instead; then the taker.
    thin = Glft({"PENGU-USD": curve(a=1e-6)})
    early = thin.decide(view(now=0.0))
    assert isinstance(early, twap.PlaceMakerSlice) and early.cushion_ticks == 1
    assert early.reason is not None and early.reason.distance_spreads < -0.5  # the model: below the bid
    assert isinstance(thin.decide(view(now=26.0)), twap.PlaceTakerFallback)
    keyed = view(now=6.0, config=policy_with(f"{PURGE}.glft.min_maker_sec=5"))
    assert isinstance(thin.decide(keyed), twap.PlaceTakerFallback)


def test_the_last_maker_attempt_leaves_time_for_the_taker_before_the_deadline() -> None:
    policy = Glft({"PENGU-USD": curve(a=5.0)})  # a busy flow: the model quotes to the end
    last = policy.decide(view(now=116.0))  # 4 s left: 3 s of rest, 1 s kept for the taker
    assert isinstance(last, twap.PlaceMakerSlice) and last.ttl_sec == 3
    assert isinstance(policy.decide(view(now=116.5)), twap.PlaceTakerFallback)  # 2 s of rest: too short
    reserved = view(now=110.0, config=policy_with(f"{PURGE}.glft.taker_reserve_sec=5"))
    shorter = policy.decide(reserved)  # 5 s usable: half of it, but never under min_rest_sec (3 s)
    assert isinstance(shorter, twap.PlaceMakerSlice) and shorter.ttl_sec == 3


def test_a_falling_mid_quotes_lower_and_a_rising_one_is_not_counted_on() -> None:
    # GLFT's drift term: waiting on a falling mid costs, so the ask moves toward the bid (here from
    # 0.06 to -0.33 spreads from the mid); a rise would lift it to 0.24, a bet the seller does not take.
    base = curve(a=0.1, k=1.0, sigma=0.5)
    cushions = []
    closed_form = GlftSettings(gamma=0.5, requote_sec=10, quote_grid=False)
    for mu in (-0.03, 0.0, 0.01):
        decision = Glft({"PENGU-USD": replace(base, mu=mu)}, closed_form).decide(view(spread_ticks=40))
        assert isinstance(decision, twap.PlaceMakerSlice)
        cushions.append(decision.cushion_ticks)
    assert cushions[0] < cushions[1] == cushions[2] < 40
