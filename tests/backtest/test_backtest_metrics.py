"""Metrics on hand-computed episodes: the research note's worked numbers, then real runs on a tape.

Book: mid 1.0000, bid 0.9975, ask 1.0025 (50 bps spread); Coinbase Intro-1 fees, maker 0.6 %,
taker 1.2 %. A market sell costs 144.70 bps, the perfect maker 35.15 bps.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from makerfirst.algorithms.shortfall import implementation_shortfall_bps
from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.replay.backtest import Mode, ReplayVenue, SimOptions, run_episode
from makerfirst.replay.driver import product_tape
from makerfirst.replay.episodes import Episode
from makerfirst.replay.events import (
    ASK,
    BID,
    BUY,
    CLEAR,
    EVENT_DTYPE,
    LEVEL,
    TRADE,
    EventStream,
    ProductScale,
)
from makerfirst.replay.metrics import (
    EpisodeResult,
    capture_ratio,
    forced_sale_net,
    market_sell_bps,
    percentile,
    perfect_maker_bps,
    summarize,
)
from makerfirst.replay.policies import REFERENCE_POLICIES

MAKER, TAKER = Decimal("0.006"), Decimal("0.012")
BOOK = OrderBook(
    "X-USD",
    bids=(Level(Decimal("0.9975"), Decimal(1000)),),
    asks=(Level(Decimal("1.0025"), Decimal(1000)),),
    timestamp=0.0,
)
X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal(1), Decimal(1), Decimal(1))


def test_the_references_match_the_research_notes_worked_numbers() -> None:
    assert market_sell_bps(BOOK, Decimal(100), TAKER) == Decimal("144.70")
    assert perfect_maker_bps(BOOK, MAKER) == Decimal("35.15")


def test_a_part_maker_part_forced_episode_by_hand() -> None:
    # 60 sold as maker at the ask, 40 left at the deadline and forced into the bid with the taker fee:
    # proceeds 60·1.0025·0.994 + 40·0.9975·0.988 = 59.7891 + 39.4212 = 99.2103 of 100 → 78.97 bps.
    fills_value, fees = Decimal(60) * Decimal("1.0025"), Decimal(60) * Decimal("1.0025") * MAKER
    residual_net = forced_sale_net(BOOK, Decimal(40), TAKER)
    assert residual_net == Decimal("39.42120")
    cost = implementation_shortfall_bps(
        Side.SELL, Decimal(100), BOOK.mid, filled_value=fills_value, fees=fees, residual_value=residual_net
    )
    assert cost == Decimal("78.9700")
    e = capture_ratio(Decimal("144.70"), Decimal("35.15"), cost)
    assert e is not None and round(e, 3) == Decimal("0.600")  # the note's "E = 0.6 means IS ≈ 79 bps"


def result(
    cost: str, *, completed: bool = True, maker: str = "1", time: float | None = 5.0, episode: int = 0
) -> EpisodeResult:
    return EpisodeResult(
        episode_id=episode,
        mode="replay",
        policy="p",
        product_id="X-USD",
        size=Decimal(1),
        arrival_mid=Decimal(1),
        filled_size=Decimal(1),
        filled_value=Decimal(1),
        fees=Decimal(0),
        maker_size=Decimal(maker),
        maker_value=Decimal(maker),
        residual_size=Decimal(0),
        residual_net=Decimal(0),
        completed=completed,
        censored=False,
        time_to_complete_sec=time,
        time_to_first_fill_sec=time if maker != "0" else None,
        is_bps=Decimal(cost),
        market_sell_bps=Decimal("144.70"),
        perfect_maker_bps=Decimal("35.15"),
        loop_outcome="complete",
        orders=1,
    )


def test_summary_statistics() -> None:
    costs = [str(c) for c in range(10, 210, 10)]  # 20 episodes: 10, 20, ..., 200 bps
    results = [result(c) for c in costs[:-1]] + [result(costs[-1], completed=False, maker="0", time=None)]
    m = summarize(results)
    assert (m.is_mean_bps.value, m.is_median_bps.value, m.is_p95_bps.value) == (105.0, 105.0, 190.0)
    assert m.completion_rate.value == 0.95 and m.maker_share.value == 0.95
    assert m.e is not None and m.e.value == round((144.70 - 105.0) / (144.70 - 35.15), 3)
    assert percentile([Decimal(1)], 0.95) == Decimal(1)
    # Every figure carries its interval and sample size.
    assert m.is_mean_bps.n == 20 and m.is_mean_bps.covers(105.0)
    assert m.is_mean_bps.low is not None and m.is_mean_bps.low < 105.0 < m.is_mean_bps.high  # type: ignore[operator]
    assert m.completion_rate.method == "wilson" and m.completion_rate.covers(0.95)


def tape(*extra: tuple[float, int, int, int, int]) -> ReplayVenue:
    rows = [(90.0, CLEAR, 0, 0, 0), (90.0, LEVEL, BID, 9975, 1000), (90.0, LEVEL, ASK, 10025, 1000), *extra]
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    stream = EventStream((ProductScale("X-USD", X.price_increment, X.base_increment),), events)
    return ReplayVenue(X, product_tape(stream, "X-USD"), Decimal(1))


EPISODE = Episode(
    episode_id=3,
    product_id="X-USD",
    index=0,
    arrival=100.0,
    size_usd=Decimal(25),
    deadline_sec=10.0,
    horizon_sec=20.0,
    seed=1,
)


def test_a_market_sell_episode_costs_exactly_the_market_sell_reference() -> None:
    outcome, _ = run_episode(tape(), REFERENCE_POLICIES["market_sell"], EPISODE, SimOptions(), Mode.REPLAY)
    assert outcome.size == Decimal(25) and outcome.completed
    assert outcome.is_bps == outcome.market_sell_bps == Decimal("144.70")
    assert outcome.maker_size == 0 and outcome.orders == 1


def test_a_maker_fill_from_a_trade_through_by_hand() -> None:
    # The design note rests at bid + 1 tick = 0.9976; a buyer trading at the ask at t=103 goes
    # through it: 25 × 0.9976 × (1 − 0.006) = 24.790 → 83.856 bps, complete 3 s after arrival.
    venue = tape((103.0, TRADE, BUY, 10025, 100))
    outcome, trace = run_episode(
        venue, REFERENCE_POLICIES["design_note"], EPISODE, SimOptions(), Mode.REPLAY, trace=True
    )
    assert outcome.is_bps == Decimal("83.856")
    assert outcome.completed and outcome.time_to_complete_sec == pytest.approx(3.0)
    assert outcome.maker_size == Decimal(25)
    assert trace is not None and trace.fills == ((pytest.approx(3.0), 0.9976, 25.0, "MAKER"),)
    assert trace.quotes and all(price == pytest.approx(0.9976) for _, price in trace.quotes)


def test_an_unsold_residual_is_forced_into_the_bids_at_the_deadline() -> None:
    outcome, _ = run_episode(tape(), REFERENCE_POLICIES["fixed_ttl"], EPISODE, SimOptions(), Mode.REPLAY)
    assert not outcome.completed and outcome.loop_outcome == "deadline"
    assert outcome.residual_size == Decimal(25) and outcome.is_bps == Decimal("144.70")
    assert outcome.orders == 2  # 6 s TTL: a second slice was resting when the deadline came
