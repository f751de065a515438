"""The replay venue on the compiled book: the same results as the Python oracle, woken only when due.

The compiled path (``CompiledReplayExchange``: the compiled book advanced in one call up to the next
moment anything else must happen, the book at arrival restored from a checkpoint) must give the
backtest exactly the fills, IS and markouts of the oracle path (``ReplayExchange`` on the Python
``ReplayBook``, fed row by row from the capture's start), and count what the runs lived through.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.matching import MatchingEngine
from makerfirst.cli.backtest_cmd import backtest
from makerfirst.clock import VirtualClock
from makerfirst.domain.orders import OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.domain.product import Product
from makerfirst.replay.backtest import (
    MID_PERIOD_SEC,
    BacktestConfig,
    BacktestPlan,
    MidRecorder,
    Mode,
    ReplayBookKind,
    ReplayVenue,
    SimOptions,
    backtest_json,
    plan_backtest,
    run_backtest,
    run_episode,
)
from makerfirst.replay.cbook import BookTape
from makerfirst.replay.driver import FillModel, ReplayExchange, product_tape
from makerfirst.replay.episodes import Episode
from makerfirst.replay.events import (
    ASK,
    BBO,
    BID,
    BUY,
    CLEAR,
    EVENT_DTYPE,
    LEVEL,
    TRADE,
    EventStream,
    ProductScale,
)
from makerfirst.replay.policies import REFERENCE_POLICIES
from makerfirst.replay.venue import CompiledReplayExchange, arrival_checkpoints
from simkit import BINANCE_BTCUSDT, COINBASE_THIN

X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal("0.01"), Decimal("0.01"), Decimal(0))
SCALE = ProductScale("X-USD", X.price_increment, X.base_increment)
Row = tuple[float, int, int, int, int]


def stream_of(rows: list[Row]) -> EventStream:
    events = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (t, kind, side, price, size) in enumerate(rows):
        events[i] = (round(t * 1e9), 0, kind, side, price, size, 0)
    return EventStream((SCALE,), events)


def book_rows(*extra: Row, end: float = 200.0) -> list[Row]:
    """A snapshot at 90 s (bid 0.9975, ask 1.0025, 1000 lots each; 0.9960 bid deep), ``extra``, a
    last row at ``end``."""
    return [
        (90.0, CLEAR, 0, 0, 0),
        (90.0, LEVEL, BID, 9960, 1_000_000),
        (90.0, LEVEL, BID, 9975, 1000),
        (90.0, LEVEL, ASK, 10025, 1000),
        *extra,
        (end, LEVEL, BID, 9970, 5),
    ]


def without_volatile(payload: dict[str, object]) -> dict[str, object]:
    """The backtest JSON less what differs between two runs of the same work (the wall clock)."""
    out = dict(payload)
    replay = out.pop("replay")
    assert isinstance(replay, dict)
    out["replay_counts"] = (replay["runs"], replay["messages"], replay["level_rows"])
    return out


# -- end to end on the shared captures -----------------------------------------------------------
CAPTURES = [
    pytest.param(COINBASE_THIN / "ws-feed.txt", SimOptions(), id="coinbase-thin"),
    pytest.param(BINANCE_BTCUSDT / "btcusdt_20240808.gz", SimOptions(), id="binance-btcusdt"),
    pytest.param(
        BINANCE_BTCUSDT / "btcusdt_20240808.gz",
        SimOptions(entry_latency_sec=0.12, feed_latency_sec=0.035, cancel_queue_sec=0.05),
        id="binance-btcusdt-latencies",
    ),
]


@pytest.mark.parametrize(("capture", "options"), CAPTURES)
def test_the_compiled_replay_gives_the_oracles_backtest_to_the_cent(
    capture: Path, options: SimOptions, tmp_path: Path
) -> None:
    if not capture.is_file():
        pytest.skip(f"real capture {capture} is absent (set MAKERFIRST_DATA_DIR to the shared data folder)")
    payloads, results = {}, {}
    for kind in ReplayBookKind:
        config = BacktestConfig(
            data=str(capture),
            modes=(Mode.REPLAY,),
            options=replace(options, replay_book=kind),
            cache_dir=tmp_path,
        )
        result = run_backtest(config)
        assert result.replay is not None and result.replay.book == kind.value
        payloads[kind] = without_volatile(backtest_json(result, config))
        results[kind] = result.results
    assert results[ReplayBookKind.COMPILED] == results[ReplayBookKind.ORACLE]  # fills, IS, markouts
    assert payloads[ReplayBookKind.COMPILED] == payloads[ReplayBookKind.ORACLE]
    assert any(r.maker_size > 0 for r in results[ReplayBookKind.COMPILED])  # resting sells did fill


# -- the venue ------------------------------------------------------------------------------------
def both_exchanges(
    rows: list[Row], start: float, latency: float
) -> list[tuple[VirtualClock, SimulatedExchange]]:
    stream = stream_of(rows)
    balances = {"X": Decimal(100), "USD": Decimal(0)}
    settings = SimulatorSettings(request_latency_sec=latency, cancel_queue_sec=0.0)
    pairs: list[tuple[VirtualClock, SimulatedExchange]] = []
    for compiled in (False, True):
        clock = VirtualClock(start=start)
        exchange: SimulatedExchange
        if compiled:
            tape = BookTape.from_stream(stream, "X-USD")
            exchange = CompiledReplayExchange(clock, X, tape, dict(balances), settings=settings)
        else:
            exchange = ReplayExchange(
                clock, X, product_tape(stream, "X-USD"), dict(balances), settings=settings
            )
        exchange.advance()
        pairs.append((clock, exchange))
    return pairs


def sell(price: str, size: str, end_time: float, cid: str = "s1") -> PlaceOrder:
    return PlaceOrder(
        cid, "X-USD", Side.SELL, OrderType.POST_ONLY_GTD, Decimal(size), Decimal(price), end_time
    )


async def place_then_wait(
    clock: VirtualClock, exchange: SimulatedExchange, order: PlaceOrder, until: float
) -> None:
    await exchange.place_order(order)
    await clock.sleep_until(until)
    exchange.advance()


def outcome(exchange: SimulatedExchange) -> tuple[object, ...]:
    orders = tuple((o.status, o.filled_size) for o in exchange.all_orders())
    fills = tuple((f.time, f.price, f.size, f.liquidity) for f in exchange.all_fills())
    return orders, fills


@pytest.mark.parametrize(
    ("trade_at", "expires_at", "filled"),
    [
        (105.0, 110.0, "0.12"),  # both trades come before the order expires
        (105.0, 104.0, "0"),  # the order expired first
        (105.0, 105.0, "0.07"),  # a row stamped at the expiry time applies first, as the oracle orders them
    ],
)
def test_the_venue_wakes_at_the_fill_and_the_expiry_as_the_oracle_does(
    trade_at: float, expires_at: float, filled: str
) -> None:
    rows = book_rows(
        (100.5, LEVEL, ASK, 10030, 40),
        (trade_at, TRADE, BUY, 10040, 7),  # a buyer pays through our ask: we fill first, 7 lots
        (trade_at + 1, TRADE, BUY, 10040, 5),
    )
    seen = []
    for clock, exchange in both_exchanges(rows, start=100.0, latency=0.05):
        order = sell("1.0030", "0.30", end_time=expires_at)
        asyncio.run(place_then_wait(clock, exchange, order, until=150.0))
        seen.append(outcome(exchange))
    assert seen[0] == seen[1]
    ((status, size),) = seen[1][0]
    assert size == Decimal(filled) and status is OrderStatus.EXPIRED
    if size:
        assert seen[1][1][0][0] == trade_at  # settled at the trade's own time, not at the next wake-up


def test_an_order_acknowledged_after_the_entry_latency_sees_the_book_of_that_moment() -> None:
    # The ask drops to 1.0026 at 100.02 s: a post-only sell at 1.0026 sent at 100 s arrives at
    # 100.05 s behind 30 lots, so a 20-lot trade at 100.1 s leaves it unfilled; the next 15 fill 5.
    rows = book_rows(
        (100.02, LEVEL, ASK, 10026, 30),
        (100.1, TRADE, BUY, 10026, 20),
        (100.2, LEVEL, ASK, 10026, 10),
        (100.3, TRADE, BUY, 10026, 15),
    )
    seen = []
    for clock, exchange in both_exchanges(rows, start=100.0, latency=0.05):
        asyncio.run(place_then_wait(clock, exchange, sell("1.0026", "0.50", end_time=160.0), until=150.0))
        seen.append(outcome(exchange))
    assert seen[0] == seen[1]
    assert [(f[0], f[2]) for f in seen[1][1]] == [(100.3, Decimal("0.05"))]


def test_the_mid_recorder_sampled_inside_the_compiled_call_records_the_oracles_mids() -> None:
    # The touch moves between samples, our sell fills between two of them and an IOC of ours takes
    # the best bid: every 0.1 s sample, taken in one compiled call, is the oracle's.
    moves = book_rows(
        *[
            # better bids and asks come and go (every third row empties its level again)
            (
                100.0 + 0.037 * i,
                LEVEL,
                BID if i % 2 else ASK,
                9976 + i % 5 if i % 2 else 10024 - i % 5,
                0 if i % 3 == 0 else 50 + i,
            )
            for i in range(60)
        ],
        (101.234, TRADE, BUY, 10060, 30),
        (102.5, LEVEL, BID, 9976, 20),
    )
    rows = sorted(moves, key=lambda row: row[0])  # stable: the snapshot keeps its order
    seen = []
    for clock, exchange in both_exchanges(rows, start=100.0, latency=0.05):
        recorder = MidRecorder(100.0, MID_PERIOD_SEC, 104.0)
        exchange.attach_market("X-USD", recorder)

        async def trade(clock: VirtualClock = clock, exchange: SimulatedExchange = exchange) -> None:
            await exchange.place_order(sell("1.0026", "0.10", end_time=103.0))
            await clock.sleep_until(102.0)
            ioc = PlaceOrder(
                "s2", "X-USD", Side.SELL, OrderType.LIMIT_IOC, Decimal("0.50"), Decimal("0.9900")
            )
            await exchange.place_order(ioc)
            await clock.sleep_until(105.0)
            exchange.advance()

        asyncio.run(trade())
        seen.append((recorder.times, recorder.mids, outcome(exchange)))
    assert seen[0] == seen[1]
    assert len(seen[1][0]) == 41 and len(set(seen[1][1])) > 3  # 100.0 .. 104.0, and the mid moved
    assert len(seen[1][2][1]) >= 2  # our maker fill and our taker fill


def test_an_episode_from_its_arrival_checkpoint_equals_one_caught_up_from_the_start() -> None:
    prefix = [(91.0 + i * 0.01, LEVEL, ASK, 10025 + i % 7, 100 + i) for i in range(500)]
    stream = stream_of(book_rows(*prefix, (101.0, LEVEL, ASK, 10030, 50), (103.0, TRADE, BUY, 10040, 40)))
    tape = product_tape(stream, "X-USD")
    book_tape = BookTape.from_rows(tape.rows, tape.scale)
    episode = Episode(0, "X-USD", 0, 100.0, Decimal(25), 60.0, 100.0, seed=3)
    checkpointed = ReplayVenue(X, tape, Decimal(1), book_tape, arrival_checkpoints(book_tape, [100.0]))
    from_start = ReplayVenue(X, tape, Decimal(1))
    spec = REFERENCE_POLICIES["design_note"]
    one, _ = run_episode(checkpointed, spec, episode, SimOptions(), Mode.REPLAY)
    other, _ = run_episode(from_start, spec, episode, SimOptions(), Mode.REPLAY)
    oracle, _ = run_episode(
        from_start, spec, episode, SimOptions(replay_book=ReplayBookKind.ORACLE), Mode.REPLAY
    )
    assert one == other == oracle
    assert one.maker_size > 0


# -- honest counting ----------------------------------------------------------------------------
def hand_plan(venue: ReplayVenue, episodes: list[Episode]) -> BacktestPlan:
    return BacktestPlan(
        data="hand-made",
        venues={(Mode.REPLAY, "X-USD"): venue},
        episodes=tuple((Mode.REPLAY, e) for e in episodes),
        rebuild=None,
        calibrations=(),
        skipped=(),
        fill_model=FillModel.CONSERVATIVE,
    )


def test_replay_counts_messages_each_run_lived_through_without_the_catch_up_or_bbo() -> None:
    # Before the 100 s arrival: 300 one-row diffs (catch-up, not counted). After it: a two-row diff
    # at 101 s (one message, two level rows), a BBO row (not counted), a trade, and the last row.
    prefix = [(91.0 + i * 0.01, LEVEL, BID, 9900 + i % 50, 10 + i) for i in range(300)]
    rows = book_rows(
        *prefix,
        (101.0, LEVEL, ASK, 10030, 50),
        (101.0, LEVEL, ASK, 10031, 50),
        (102.0, BBO, 1, 9975, 10025),
        (103.0, TRADE, BUY, 10040, 1),
        end=108.0,
    )
    tape = product_tape(stream_of(rows), "X-USD")
    book_tape = BookTape.from_rows(tape.rows, tape.scale)
    venue = ReplayVenue(X, tape, Decimal(1), book_tape, arrival_checkpoints(book_tape, [100.0]))
    episode = Episode(0, "X-USD", 0, 100.0, Decimal(25), 10.0, 8.0, seed=1)
    # Both sell at once (the design note's purge mode: $25 is under its threshold), so their markets
    # run on to the end of the data for the markouts.
    policies = tuple(REFERENCE_POLICIES[name] for name in ("design_note", "market_sell"))
    config = BacktestConfig(data="hand-made", policies=policies, modes=(Mode.REPLAY,))
    for kind in ReplayBookKind:
        options = SimOptions(replay_book=kind)
        result = run_backtest(replace(config, options=options), plan=hand_plan(venue, [episode]))
        count = result.replay
        assert count is not None and count.book == kind.value
        # Each of the two runs lived through 3 messages (diff, trade, last row), 3 level rows.
        assert (count.runs, count.messages, count.level_rows) == (2, 6, 6)
        assert count.seconds > 0 and count.messages_per_sec == pytest.approx(6 / count.seconds, abs=1)
        payload = backtest_json(result, replace(config, options=options))["replay"]
        assert isinstance(payload, dict) and "BBO/ticker messages excluded" in str(payload["note"])


def test_fill_models_the_compiled_book_does_not_implement_run_on_the_oracle() -> None:
    venue = ReplayVenue(X, product_tape(stream_of(book_rows(end=115.0)), "X-USD"), Decimal(1))
    episode = Episode(0, "X-USD", 0, 100.0, Decimal(25), 10.0, 15.0, seed=1)
    config = BacktestConfig(
        data="hand-made",
        policies=(REFERENCE_POLICIES["design_note"],),
        options=SimOptions(fill_model=FillModel.PROBABILISTIC),
    )
    result = run_backtest(config, plan=hand_plan(venue, [episode]))
    assert result.replay is not None and result.replay.book == "oracle"


def test_a_plan_takes_one_checkpoint_per_replay_episode_at_its_arrival(tmp_path: Path) -> None:
    capture = COINBASE_THIN / "ws-feed.txt"
    if not capture.is_file():
        pytest.skip(f"real capture {capture} is absent")
    plan = plan_backtest(BacktestConfig(data=str(capture), modes=(Mode.REPLAY,), cache_dir=tmp_path))
    for (_, pid), venue in plan.venues.items():
        assert isinstance(venue, ReplayVenue) and venue.arrivals is not None
        arrivals = {e.arrival for _, e in plan.episodes if e.product_id == pid}
        assert set(venue.arrivals.by_arrival) == arrivals
        for arrival, checkpoint in venue.arrivals.by_arrival.items():
            # The checkpoint holds every row at or before the arrival, none after.
            assert checkpoint.cursor == int(np.searchsorted(venue.arrivals.times, arrival, side="right"))


def test_the_backtest_json_reports_the_replay_counts_and_the_table_prints_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = COINBASE_THIN / "ws-feed.txt"
    if not capture.is_file():
        pytest.skip(f"real capture {capture} is absent")
    monkeypatch.setenv("MAKERFIRST_CACHE_DIR", str(tmp_path / "cache"))
    app = typer.Typer()
    app.command("backtest")(backtest)
    app.command("other")(lambda: None)  # two commands: typer keeps the command name
    args = ["backtest", "--data", str(capture), "--mode", "replay", "--policies", "design_note"]
    outcome = CliRunner().invoke(app, [*args, "--json"])
    assert outcome.exit_code == 0, outcome.output
    replay = json.loads(outcome.stdout)["replay"]
    assert {"messages", "level_rows", "seconds", "messages_per_sec", "note"} <= set(replay)
    assert replay["book"] == "compiled" and replay["messages"] > 0 and replay["messages_per_sec"] > 0
    oracle = CliRunner().invoke(app, [*args, "--json", "--replay-book", "oracle"])
    assert json.loads(oracle.stdout)["replay"]["messages"] == replay["messages"]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "replay (compiled book):" in table.stdout and "msg/s" in table.stdout


def test_the_mid_recorders_sample_times_served_in_one_call_are_the_ones_it_steps_through() -> None:
    """The compiled venue asks ``due`` for a whole span of sample times at once; they must be the
    floats ``step`` reaches by adding the period one sample at a time (which ``start + k * period``
    is not), or the markouts would read the book at other rows."""
    start, stop = 1_700_000_123.4, 1_700_003_000.0
    stepping = MidRecorder(start, MID_PERIOD_SEC, stop)
    stepped = []
    while stepping.next_time() <= stop:
        stepped.append(stepping.next_time())
        stepping.step(MatchingEngine())
    served = MidRecorder(start, MID_PERIOD_SEC, stop).due(stop + 5.0)
    assert served.tolist() == stepped
    assert [start + k * MID_PERIOD_SEC for k in range(len(stepped))] != stepped
