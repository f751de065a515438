"""Honest replay: episodes that never overlap and cover the capture, seeds that ignore the other
products, censoring at the end of the data, maker share by value per product, markouts."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerfirst.domain.product import Product
from makerfirst.replay.backtest import (
    BacktestConfig,
    Mode,
    ReplayVenue,
    SimOptions,
    plan_backtest,
    run_episode,
)
from makerfirst.replay.driver import product_tape
from makerfirst.replay.episodes import Episode, Window, episode_seed, replay_episodes
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
from makerfirst.replay.metrics import EpisodeResult, summarize
from makerfirst.replay.policies import REFERENCE_POLICIES

X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal(1), Decimal(1), Decimal(1))


# -- episodes -------------------------------------------------------------------------------------
def test_a_products_episodes_never_overlap_and_cover_the_capture() -> None:
    episodes = replay_episodes(
        "X-USD", wanted=12, window=Window(0.0, 600.0), deadline_sec=120.0, seed=1, mode="replay"
    )
    assert len(episodes) == 5  # as many 120 s slots as fit in 600 s, not 12 overlapping ones
    spans = [(e.arrival, e.arrival + e.run_sec) for e in episodes]
    assert all(end <= later for (_, end), (later, _) in itertools.pairwise(spans))
    assert [e.arrival for e in episodes] == [0.0, 120.0, 240.0, 360.0, 480.0]  # spread end to end
    assert [e.horizon_sec for e in episodes] == [600.0, 480.0, 360.0, 240.0, 120.0]  # the rest of the data
    assert {e.size_usd for e in episodes} == {Decimal(10), Decimal(25), Decimal(45)}


def test_a_capture_shorter_than_the_deadline_is_one_episode_over_all_of_it() -> None:
    (only,) = replay_episodes(
        "X-USD", wanted=12, window=Window(10.0, 41.0), deadline_sec=120.0, seed=1, mode="replay"
    )
    assert (only.arrival, only.horizon_sec, only.run_sec) == (10.0, 31.0, 31.0)


def _feed(tmp_path: Path) -> tuple[Path, Path]:
    """A 300 s capture of two products, one quoted in EUR."""
    products = tmp_path / "products.txt"
    spec = {"base_increment": "1", "quote_increment": "0.0001", "base_min_size": "1", "min_market_funds": "1"}
    products.write_text(
        json.dumps(
            [
                {"id": "A-USD", "base_currency": "A", "quote_currency": "USD", "status": "online", **spec},
                {"id": "B-EUR", "base_currency": "B", "quote_currency": "EUR", "status": "online", **spec},
            ]
        )
    )
    lines = []
    for product in ("A-USD", "B-EUR"):
        book = {"bids": [["0.9975", "1000"]], "asks": [["1.0025", "1000"]]}
        lines.append(f"1.0: {json.dumps({'type': 'snapshot', 'product_id': product, **book})}")
    for t in range(10, 301, 10):
        for product in ("A-USD", "B-EUR"):
            change = {"type": "l2update", "product_id": product, "changes": [["buy", "0.9970", str(t)]]}
            lines.append(f"{t}.0: {json.dumps(change)}")
    feed = tmp_path / "ws-feed.txt"
    feed.write_text("\n".join(lines) + "\n")
    return feed, products


def _replay_episodes_of(config: BacktestConfig, product_id: str) -> list[Episode]:
    # What an episode is, without its position in the plan.
    plan = plan_backtest(config)
    return [replace(e, episode_id=0) for mode, e in plan.episodes if e.product_id == product_id]


def test_an_episode_is_the_same_whatever_the_other_products(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAKERFIRST_CACHE_DIR", str(tmp_path / "cache"))
    feed, products = _feed(tmp_path)
    both = BacktestConfig(
        data=str(feed), products_file=products, deadline_sec=60.0, episodes=3,
        quote_usd=(("USD", Decimal(1)), ("EUR", Decimal("1.2"))),
    )  # fmt: skip
    full = _replay_episodes_of(both, "A-USD")
    assert len(full) == 6 and {e.seed for e in full} == {
        episode_seed(1, m, "A-USD", i) for m in ("replay", "calibrated") for i in range(3)
    }
    assert _replay_episodes_of(replace(both, product="A-USD"), "A-USD") == full  # --product
    assert _replay_episodes_of(replace(both, quote_usd=(("USD", Decimal(1)),)), "A-USD") == full  # no EUR
    assert episode_seed(1, "replay", "A-USD", 0) != episode_seed(1, "replay", "B-EUR", 0)


# -- censoring and markouts on a hand-written tape --------------------------------------------------
def tape(*extra: tuple[float, int, int, int, int], end: float = 120.0) -> ReplayVenue:
    rows = [
        (90.0, CLEAR, 0, 0, 0),
        (90.0, LEVEL, BID, 9975, 1000),
        (90.0, LEVEL, ASK, 10025, 1000),
        *extra,
        (end, LEVEL, BID, 9970, 5),  # the last row: the data ends here
    ]
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    stream = EventStream((ProductScale("X-USD", X.price_increment, X.base_increment),), events)
    return ReplayVenue(X, product_tape(stream, "X-USD"), Decimal(1))


def episode(deadline: float, horizon: float) -> Episode:
    return Episode(0, "X-USD", 0, 100.0, Decimal(25), deadline, horizon, seed=1)


def test_a_policy_still_working_when_the_data_ends_is_censored_not_charged() -> None:
    venue = tape()
    short, _ = run_episode(
        venue, REFERENCE_POLICIES["design_note"], episode(120.0, 20.0), SimOptions(), Mode.REPLAY
    )
    assert short.censored and short.loop_outcome == "end_of_data" and not short.completed
    assert short.time_to_first_fill_sec is None
    summary = summarize([short])
    assert summary.censored == 1 and summary.is_mean_bps.value is None and summary.is_mean_bps.n == 0
    assert summary.e is None  # no full E from a run the data cut short
    assert summary.completion_rate.value == 0.0 and summary.completion_rate.n == 1
    # The same data with a deadline inside it: the policy's own deadline, a forced sale, no censoring.
    cut, _ = run_episode(
        venue, REFERENCE_POLICIES["fixed_ttl"], episode(10.0, 20.0), SimOptions(), Mode.REPLAY
    )
    assert not cut.censored and cut.loop_outcome == "deadline" and cut.is_bps == Decimal("144.70")
    # A market sell finishes long before the data ends.
    sold, _ = run_episode(
        venue, REFERENCE_POLICIES["market_sell"], episode(120.0, 20.0), SimOptions(), Mode.REPLAY
    )
    assert sold.completed and not sold.censored


def test_markouts_are_the_mid_move_after_our_fill_adverse_positive() -> None:
    # A buyer lifts the ask through our sell at 103 s; at 105 s the market moves up 10 ticks.
    venue = tape(
        (103.0, TRADE, BUY, 10025, 100),
        (105.0, LEVEL, BID, 9975, 0),
        (105.0, LEVEL, BID, 9985, 1000),
        (105.0, LEVEL, ASK, 10025, 0),
        (105.0, LEVEL, ASK, 10035, 1000),
    )
    result, _ = run_episode(
        venue, REFERENCE_POLICIES["design_note"], episode(120.0, 20.0), SimOptions(), Mode.REPLAY
    )
    assert result.completed and not result.censored and result.time_to_first_fill_sec == pytest.approx(3.0)
    marks = {m.horizon_sec: m.bps for m in result.markouts}
    assert marks[1] == pytest.approx(0.0)
    assert marks[5] == pytest.approx(10.0)  # mid 1.0000 → 1.0010 after we sold: 10 bps adverse
    assert dict(result.markouts_beyond_data) == {1: 0, 5: 0, 30: 1, 60: 1}  # 103 + 30 > 120: no data
    summary = summarize([result])
    five = next(k for k in summary.markouts if k.horizon_sec == 5)
    assert five.bps.value == pytest.approx(10.0) and five.fills == 1
    assert next(k for k in summary.markouts if k.horizon_sec == 60).beyond_data == 1


# -- maker share ------------------------------------------------------------------------------------
def _result(product: str, size: str, mid: str, maker_value: str, episode_id: int) -> EpisodeResult:
    value = Decimal(size) * Decimal(mid)
    return EpisodeResult(
        episode_id=episode_id, mode="replay", policy="p", product_id=product, size=Decimal(size),
        arrival_mid=Decimal(mid), filled_size=Decimal(size), filled_value=value, fees=Decimal(0),
        maker_size=Decimal(0), maker_value=Decimal(maker_value), residual_size=Decimal(0),
        residual_net=Decimal(0), completed=True, censored=False, time_to_complete_sec=1.0,
        time_to_first_fill_sec=None, is_bps=Decimal(10), market_sell_bps=Decimal(100),
        perfect_maker_bps=Decimal(30), loop_outcome="complete", orders=1,
    )  # fmt: skip


def test_maker_share_is_a_share_of_value_per_product_then_averaged() -> None:
    # 1,000,000 cheap units all sold as maker; 1 unit worth 50,000 sold as taker, twice as much in value:
    # adding base units would say 100 %, a value share over both 33 %; per product then averaged, 50 %.
    results = [
        _result("CHEAP-USD", "1000000", "0.025", "25000", 0),
        _result("DEAR-USD", "1", "50000", "0", 1),
    ]
    share = summarize(results).maker_share
    assert share.value == 0.5 and share.n == 2 and share.low is not None and share.low <= 0.5


def test_replay_episodes_reject_an_empty_capture() -> None:
    from makerfirst.domain.errors import MakerfirstError  # noqa: PLC0415

    with pytest.raises(MakerfirstError, match="no time"):
        replay_episodes("X-USD", wanted=1, window=Window(5.0, 5.0), deadline_sec=10.0, seed=1, mode="replay")
    assert math.isinf(episode(1.0, math.inf).horizon_sec)
