"""The taker leg: how far each taker order's fills went under the bid its IOC was priced from.

Book of the replayed tapes: ask 1.0025 × 1000, bids 0.9975 × 10, 0.9950 × 10 and then a deep
level; X-USD's tick is 0.0001, a $25 episode sells 25 (the mid is 1.0000).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from makerfirst.domain.orders import Fill, Liquidity, OrderReport, OrderStatus, OrderType, Side
from makerfirst.domain.product import Product
from makerfirst.replay.backtest import (
    Mode,
    ReplayVenue,
    SimOptions,
    run_episode,
    summarize_results,
)
from makerfirst.replay.driver import product_tape
from makerfirst.replay.episodes import Episode
from makerfirst.replay.events import ASK, BID, CLEAR, EVENT_DTYPE, LEVEL, EventStream, ProductScale
from makerfirst.replay.metrics import EpisodeResult
from makerfirst.replay.policies import REFERENCE_POLICIES, PolicySpec
from makerfirst.replay.taker_leg import (
    TakerOrder,
    reference_from_limit,
    summarize_taker_leg,
    taker_orders,
)

X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal(1), Decimal(1), Decimal(1))
BID_PRICE = Decimal("0.9975")


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="makerfirst")


def tape(deep_bid: int, deep_size: int = 1000) -> ReplayVenue:
    """The book above, with its third bid at ``deep_bid`` ticks; nobody ever trades."""
    rows = [
        (90.0, CLEAR, 0, 0, 0),
        (90.0, LEVEL, ASK, 10025, 1000),
        (90.0, LEVEL, BID, 9975, 10),
        (90.0, LEVEL, BID, 9950, 10),
        (90.0, LEVEL, BID, deep_bid, deep_size),
    ]
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    stream = EventStream((ProductScale("X-USD", X.price_increment, X.base_increment),), events)
    return ReplayVenue(X, product_tape(stream, "X-USD"), Decimal(1))


def episode(deadline_sec: float) -> Episode:
    return Episode(
        episode_id=1,
        product_id="X-USD",
        index=0,
        arrival=100.0,
        size_usd=Decimal(25),
        deadline_sec=deadline_sec,
        horizon_sec=deadline_sec + 30.0,
        seed=1,
    )


def bps_under_the_bid(price: str) -> Decimal:
    return (BID_PRICE - Decimal(price)) / BID_PRICE * 10_000


def run(
    venue: ReplayVenue, policy: PolicySpec, deadline_sec: float, options: SimOptions | None = None
) -> EpisodeResult:
    result, _ = run_episode(venue, policy, episode(deadline_sec), options or SimOptions(), Mode.REPLAY)
    return result


def test_a_market_sell_walking_three_bids_gives_the_slippage_of_its_deepest_and_average_fill() -> None:
    # One IOC for 25 at the wide cap: 10 at 0.9975, 10 at 0.9950, 5 at 0.9900 (75.19 bps under the bid);
    # on average 24.875 / 25 = 0.9950 (25.06 bps).
    outcome = run(tape(deep_bid=9900), REFERENCE_POLICIES["market_sell"], 10.0)
    (taker,) = outcome.takers
    assert taker.reference == BID_PRICE and not taker.reference_from_limit
    assert taker.filled_size == Decimal(25) and taker.deepest_price == Decimal("0.9900")
    assert taker.slippage_bps == bps_under_the_bid("0.9900")
    assert taker.average_slippage_bps == bps_under_the_bid("0.9950")
    assert taker.cap_bps == outcome.taker_cap_bps == 1000 and not taker.beyond_cap
    (metrics,) = summarize_results([outcome], ["market_sell"])
    leg = metrics.taker_leg
    assert leg is not None
    assert (leg.orders, leg.filled_orders, leg.episodes_with_taker, leg.episodes) == (1, 1, 1, 1)
    assert leg.worst_bps == pytest.approx(75.19) and leg.beyond_cap == 0
    assert leg.p95_bps.value == pytest.approx(75.19) and leg.p95_bps.n == 1
    assert metrics.as_json()["taker_leg"] == leg.as_json()


def test_the_design_notes_taker_stops_at_its_cap_and_sells_only_what_lies_above_it() -> None:
    # After its two maker attempts (25 s, 20 s) the note's IOC is priced at 0.9975 × 0.99 = 0.987525,
    # rounded up to 0.9876: it takes the 20 above it and leaves the 0.9870 level (105 bps) alone.
    outcome = run(tape(deep_bid=9870), REFERENCE_POLICIES["design_note"], 120.0)
    (taker,) = outcome.takers
    assert taker.limit_price == Decimal("0.9876") and taker.reference == BID_PRICE
    assert taker.filled_size == Decimal(20) and taker.deepest_price == Decimal("0.9950")
    assert taker.slippage_bps == bps_under_the_bid("0.9950")  # 25.06 bps, of a 100 bps cap
    assert taker.cap_bps == 100 and not taker.beyond_cap
    assert outcome.residual_size == Decimal(5)


def test_a_policy_that_never_takes_has_no_taker_orders() -> None:
    outcome = run(tape(deep_bid=9900), REFERENCE_POLICIES["fixed_ttl"], 10.0)
    assert outcome.takers == () and outcome.orders >= 1
    (metrics,) = summarize_results([outcome], ["fixed_ttl"])
    leg = metrics.taker_leg
    assert leg is not None
    assert (leg.orders, leg.episodes_with_taker, leg.beyond_cap, leg.worst_bps) == (0, 0, 0, None)
    assert leg.caps_bps == (100,) and leg.p95_bps.n == 0
    assert leg.line() == "taker leg: 0 orders in 0 of 1 episodes, 0 beyond the 100 bps cap"


# -- a venue that fills IOCs below their limit: the count beyond the cap must see it --------------------
def ioc(limit: str, order_id: str = "o1") -> OrderReport:
    return OrderReport(
        order_id=order_id,
        client_order_id=f"c-{order_id}",
        product_id="X-USD",
        side=Side.SELL,
        order_type=OrderType.LIMIT_IOC,
        status=OrderStatus.FILLED,
        size=Decimal(25),
        limit_price=Decimal(limit),
        filled_size=Decimal(25),
        filled_value=Decimal(0),
        total_fees=Decimal(0),
        created_time=100.0,
    )


def fill(price: str, size: int, order_id: str = "o1") -> Fill:
    size_ = Decimal(size)
    return Fill("t", order_id, "X-USD", Side.SELL, Decimal(price), size_, Decimal(0), Liquidity.TAKER, 100.0)


def test_a_fill_through_the_limit_counts_beyond_the_cap() -> None:
    fills = [fill("0.9975", 10), fill("0.9850", 15)]  # 125 bps under the bid, below the 0.9876 limit
    (taker,) = taker_orders([ioc("0.9876")], fills, {"o1": BID_PRICE}, cap_bps=100)
    assert taker.slippage_bps == bps_under_the_bid("0.9850") and taker.beyond_cap
    leg = summarize_taker_leg([(taker,), ()], (100,))
    assert (leg.orders, leg.episodes_with_taker, leg.episodes, leg.beyond_cap) == (1, 1, 2, 1)
    assert "1 beyond the 100 bps cap" in leg.line()


def test_a_fill_at_the_limit_is_within_the_cap_even_when_the_bid_is_recovered_from_the_limit() -> None:
    # No priced book seen (the IOC was cut off in flight): the bid is the limit over (1 − 1 %).
    (taker,) = taker_orders([ioc("0.9876")], [fill("0.9876", 25)], {}, cap_bps=100)
    assert taker.reference_from_limit and taker.reference == reference_from_limit(
        Side.SELL, Decimal("0.9876"), 100
    )
    assert taker.slippage_bps == pytest.approx(Decimal(100)) and not taker.beyond_cap
    one_tick_lower = replace(taker, deepest_price=Decimal("0.9875"))
    assert one_tick_lower.beyond_cap


def test_only_limit_iocs_are_taker_orders_and_each_gets_its_own_fills() -> None:
    maker = replace(ioc("0.9976", "m"), order_type=OrderType.POST_ONLY_GTD, created_time=99.0)
    orders = [maker, ioc("0.9876", "a"), replace(ioc("0.9800", "b"), created_time=101.0)]
    fills = [fill("0.9976", 5, "m"), fill("0.9900", 5, "a"), fill("0.9880", 3, "b")]
    takers = taker_orders(orders, fills, {"a": BID_PRICE, "b": Decimal("0.9900")}, cap_bps=100)
    assert [t.order_id for t in takers] == ["a", "b"]
    assert [t.filled_size for t in takers] == [Decimal(5), Decimal(3)]
    leg = summarize_taker_leg([takers])
    assert leg.worst_bps == pytest.approx(float(bps_under_the_bid("0.9900")), abs=0.01)


class SlippingExchange:
    """The real replay exchange, except that every taker fill it reports is 2 % lower than it was:
    a venue that does not honour the IOC's limit."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def all_fills(self) -> list[Fill]:
        fills: Sequence[Fill] = self._inner.all_fills()  # type: ignore[attr-defined]
        return [
            replace(f, price=(f.price * Decimal("0.98")).quantize(X.price_increment))
            if f.liquidity is Liquidity.TAKER
            else f
            for f in fills
        ]


class SlippingVenues:
    def __init__(self) -> None:
        from makerfirst import bootstrap  # noqa: PLC0415 - the composition root's venues, wrapped

        self._inner = bootstrap.build_replay_venues()

    def arrival_books(self, *args: object) -> object:
        return self._inner.arrival_books(*args)  # type: ignore[arg-type]

    def open(self, *args: object) -> object:
        return SlippingExchange(self._inner.open(*args))  # type: ignore[arg-type]


def test_a_venue_that_fills_below_the_limit_shows_in_the_backtests_count_beyond_the_cap() -> None:
    options = SimOptions(replay_venues=SlippingVenues())  # type: ignore[arg-type]
    outcome = run(tape(deep_bid=9870), REFERENCE_POLICIES["design_note"], 120.0, options)
    (taker,) = outcome.takers
    assert taker.deepest_price == Decimal("0.9751")  # 0.9950 × 0.98
    assert taker.beyond_cap
    (metrics,) = summarize_results([outcome], ["design_note"])
    assert metrics.taker_leg is not None and metrics.taker_leg.beyond_cap == 1


def test_caps_and_orders_add_up_over_episodes() -> None:
    a = TakerOrder("a", Side.SELL, BID_PRICE, Decimal("0.9876"), 100, Decimal(1), Decimal(1),
                   Decimal("0.9900"), Decimal("0.9900"))  # fmt: skip
    unfilled = replace(a, order_id="b", filled_size=Decimal(0), filled_value=Decimal(0), deepest_price=None)
    leg = summarize_taker_leg([(a,), (unfilled,), ()], (100, 1000))
    assert (leg.orders, leg.filled_orders, leg.episodes_with_taker, leg.episodes) == (2, 1, 2, 3)
    assert leg.caps_bps == (100, 1000) and leg.p95_bps.n == 1
