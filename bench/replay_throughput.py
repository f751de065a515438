"""Replay throughput on the BTCUSDT capture, like with like: messages/s and level rows/s, one core.

Every engine replays the same market (the Binance BTCUSDT capture decoded by ``read_capture``,
looped until there are at least ``--min-rows`` book and trade rows, timestamps shifted by the
capture's span each loop) with ONE resting post-only sell: placed 60 s in, ``--ticks-above``
ticks above the venue's best ask then, ``--size-lots`` lots, under a conservative queue model.

Units. *Messages* are what the venue sent that moves the book or trades: snapshots + depth diffs +
trades; BBO/ticker messages (``bookTicker``) are excluded from the counts and from every engine's
input (they do no book work). *Level rows* are the (side, price, size) entries those snapshots and
diffs carry. Rates are messages (level rows) over the timed replay only: data conversion and
loading are reported in the note, not timed. Rates are per CPU second of the process (pinned to
one core; the wall-clock seconds are printed beside them, and differ only when the core is shared).

Rows (the letters are issue 10's):

* (a) ``makerfirst backtest`` replay path: ``plan_stream`` + ``run_backtest`` on the looped capture
  with the design note's policy, ``--episodes`` episodes (capped at as many as fit unoverlapped at
  the ``--deadline``): the real ``TwapLoop``/``ExecutionEngine`` on the replay venue
  (``CompiledReplayExchange``), each episode's book restored from a checkpoint taken in one pass
  over the tape, the markouts' mid recorder, the forced residual sale. Its messages are what the
  runs lived through (arrival to where each run's market stopped), the catch-up pass is not
  counted but its time is; CPU seconds are that pass + the runs (the tape's columns and level
  layout are data conversion, untimed as for every row);
* (b) ``compiled book``: :class:`makerfirst.replay.cbook.CompiledBook` alone, the compiled book with our
  orders inside it, advanced in one compiled call to the end (stopping only at our fills);
* (b) ``compiled, wake on BBO``: the same, but returning to Python at every change of the best
  bid or ask and reading both, as an engine subscribed to the touch would;
* (e) ``python dict book``: a plain-Python dict-of-levels book with the same queue tracking;
* ``ReplayBook (oracle)``: the pure-Python book ``makerfirst backtest`` replays through today
  (the compiled book's test oracle), fed row by row;
* (c) hftbacktest 2.4.4, HashMap and ROIVector depth: a strategy that wakes on every feed event
  and reads the best bid and ask (``wait_next_feed``), RiskAverse queue, partial fills;
* (d) NautilusTrader 1.231.0 with ``bypass_logging=True``, L2 book, queue position on.

The Python rows replay ``--python-loops`` loops only (their rate does not depend on the length).
The process is pinned to one core. ``--repeat N`` runs every row N times and keeps the run with the
least CPU time (a shared machine only ever slows a run down; data conversion is repeated too).

Run it (the peers need Python >= 3.12 for nautilus-trader 1.231.0; under pyenv without a global
3.12, ``python3.12`` is ``$(pyenv root)/versions/3.12.*/bin/python3.12``):

    python3.12 -m venv bench/.venv-peers
    bench/.venv-peers/bin/pip install -e . numba hftbacktest==2.4.4 nautilus-trader==1.231.0
    bench/.venv-peers/bin/python bench/replay_throughput.py

With the project venv alone (``.venv/bin/python bench/replay_throughput.py``) the peer rows say they
are not importable. The data directory is ``$MAKERFIRST_DATA_DIR``, else ``<repo>/../shared/data``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from makerfirst.domain.orders import Side
from makerfirst.replay.backtest import BacktestConfig, Mode, ReplayVenue, plan_stream, run_backtest
from makerfirst.replay.cbook import BookTape, CompiledBook, StopReason, Volume, count_volume
from makerfirst.replay.driver import ReplayBook
from makerfirst.replay.events import BBO, BID, BUY, CLEAR, LEVEL, TRADE, EventStream
from makerfirst.replay.policies import REFERENCE_POLICIES
from makerfirst.replay.readers import read_capture
from makerfirst.replay.venue import arrival_checkpoints

CAPTURE = Path("binance-btcusdt-2024-08-08") / "btcusdt_20240808.gz"
HFTBACKTEST = "hftbacktest 2.4.4"


@dataclass(frozen=True, slots=True)
class Order:
    placed_ns: int
    price_ticks: int
    size_lots: int


@dataclass(frozen=True, slots=True)
class Span:
    """A timed replay: the process's CPU seconds (what the rates use: the machine may be shared,
    and the process is pinned to one core) and the wall-clock seconds."""

    cpu: float
    wall: float


class Stopwatch:
    def __init__(self) -> None:
        self._cpu, self._wall = time.process_time(), time.perf_counter()

    def span(self) -> Span:
        return Span(time.process_time() - self._cpu, time.perf_counter() - self._wall)


@dataclass(frozen=True, slots=True)
class Row:
    engine: str
    work: str  # one line: what this engine does per message
    volume: Volume | None
    seconds: Span | None
    note: str


def machine() -> str:
    """The CPU model (Linux), else the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    return platform.machine()


def data_dir() -> Path:
    override = os.environ.get("MAKERFIRST_DATA_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def book_and_trade_rows(events: np.ndarray) -> np.ndarray:
    return events[events["kind"] != BBO]


def loop_events(events: np.ndarray, loops: int) -> np.ndarray:
    """``events`` repeated ``loops`` times, each copy shifted by the capture's span + 1 ns."""
    span = int(events["ts_ns"][-1] - events["ts_ns"][0]) + 1
    out = np.concatenate([events] * loops)
    out["ts_ns"] += np.repeat(np.arange(loops, dtype=np.int64) * span, len(events))
    return out


def volume(rows: np.ndarray) -> Volume:
    return count_volume(rows["kind"], rows["ts_ns"])


def choose_order(events: np.ndarray, ticks_above: int, size_lots: int) -> Order:
    placed = int(events["ts_ns"][0]) + 60 * 10**9
    bbo = events[events["kind"] == BBO]
    ask = int(bbo["aux"][np.searchsorted(bbo["ts_ns"], placed)])
    return Order(placed, ask + ticks_above, size_lots)


def fill_note(start_ns: int, fill_ns: int | None, filled_lots: int, extra: str = "") -> str:
    when = (
        "no fill"
        if fill_ns is None
        else f"filled {filled_lots} lots, first at +{(fill_ns - start_ns) / 1e9:.3f} s"
    )
    return f"{when}{'; ' + extra if extra else ''}"


# -- (a) makerfirst backtest's replay path --------------------------------------------------------


def run_backtest_path(rows: np.ndarray, stream: EventStream, episodes: int, deadline: float) -> Row:
    config = BacktestConfig(
        data="looped BTCUSDT capture",
        policies=(REFERENCE_POLICIES["design_note"],),
        episodes=episodes,
        modes=(Mode.REPLAY,),
        deadline_sec=deadline,
    )
    looped = EventStream(stream.products, rows)
    # Warm-up on one loop: the book's kernels load; the event loop and policy code import.
    warm = rows[rows["ts_ns"] <= rows["ts_ns"][0] + int(2 * deadline * 1e9)]
    run_backtest(
        replace(config, episodes=1),
        plan=plan_stream(replace(config, episodes=1), EventStream(stream.products, warm)),
    )
    # Not timed, like every row's data conversion: the tape's columns and level layout.
    plan = plan_stream(config, looped)
    ((key, venue),) = plan.venues.items()
    assert isinstance(venue, ReplayVenue)
    assert venue.book_tape is not None
    watch = Stopwatch()
    # Timed: the catch-up pass (the book at every arrival, in one pass over the tape), then the runs.
    books = arrival_checkpoints(venue.book_tape, [e.arrival for _, e in plan.episodes])
    plan = replace(plan, venues={key: replace(venue, arrivals=books)})
    result = run_backtest(config, plan=plan)
    seconds = watch.span()
    count = result.replay
    assert count is not None
    filled = sum(1 for r in result.results if r.maker_size > 0)
    completed = sum(1 for r in result.results if r.completed)
    return Row(
        "(a) makerfirst backtest replay",
        "TwapLoop + ExecutionEngine (design note) on the compiled replay venue, markouts, per episode",
        Volume(count.messages, count.level_rows),
        seconds,
        f"{len(result.results)} episodes of {deadline:.0f} s, {completed} completed, {filled} with maker"
        f" fills; catch-up pass {books.seconds:.2f} s (timed; its rows not counted)",
    )


# -- (b) the compiled book ------------------------------------------------------------------------


def run_compiled(
    rows: np.ndarray, one_loop: np.ndarray, stream: EventStream, order: Order, *, wake_on_bbo: bool
) -> Row:
    scale = stream.products[0]

    def replay(tape: BookTape) -> tuple[Span, int | None, int, int]:
        watch = Stopwatch()
        book = CompiledBook(tape)
        book.advance(order.placed_ns - 1)
        handle = book.submit(Side.SELL, order.price_ticks, order.size_lots).order
        first_fill: int | None = None
        filled = wakes = 0
        while not book.exhausted:
            step = book.advance(stop_on_best_change=wake_on_bbo)
            for fill in step.fills:
                first_fill = fill.ts_ns if first_fill is None else first_fill
                filled += fill.lots
            if step.reason is StopReason.BEST:
                wakes += 1
                book.best_bid(), book.best_ask()  # what a subscribed engine would read
        assert handle is not None
        return watch.span(), first_fill, filled, wakes

    replay(BookTape.from_rows(one_loop, scale))  # the kernels load (built on this machine's first use)
    prepared = time.perf_counter()
    tape = BookTape.from_rows(rows, scale)
    prep = time.perf_counter() - prepared
    seconds, first_fill, filled, wakes = replay(tape)
    extra = f"tape + level layout {prep:.2f} s ({len(tape.prices):,} distinct level prices)"
    if wake_on_bbo:
        extra = f"{wakes:,} wake-ups; " + extra
        return Row(
            "(b) compiled, wake on BBO",
            "as (b), back in Python at every best bid/ask change to read both",
            volume(rows),
            seconds,
            fill_note(int(rows["ts_ns"][0]), first_fill, filled, extra),
        )
    return Row(
        "(b) compiled book",
        "compiled L2 book (both sides, best bid/ask) + our order's queue, one call to the end",
        volume(rows),
        seconds,
        fill_note(int(rows["ts_ns"][0]), first_fill, filled, extra),
    )


# -- (e) a plain-Python dict book with queue tracking ---------------------------------------------


class DictBook:
    """The obvious Python book: a dict of levels per side, best prices kept as levels come and go,
    and one resting sell with its queue ahead under the same conservative rules (trades at or
    through our price after the queue ahead; a shrink of our level caps the queue ahead and is
    credited against the trade that follows within 0.25 s)."""

    def __init__(self, order: Order) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid: int | None = None
        self.best_ask: int | None = None
        self.order = order
        self.resting = False
        self.ahead = self.credit = self.filled = 0
        self.credit_ts = -(1 << 62)
        self.first_fill: int | None = None

    def apply(self, ts: int, kind: int, side: int, price: int, size: int) -> None:
        if kind == LEVEL:
            levels = self.bids if side == BID else self.asks
            if size:
                levels[price] = size
                if side == BID:
                    if self.best_bid is None or price > self.best_bid:
                        self.best_bid = price
                elif self.best_ask is None or price < self.best_ask:
                    self.best_ask = price
            elif levels.pop(price, None) is not None:
                if side == BID and price == self.best_bid:
                    self.best_bid = max(levels) if levels else None
                elif side != BID and price == self.best_ask:
                    self.best_ask = min(levels) if levels else None
            if self.resting and side != BID and price == self.order.price_ticks and size < self.ahead:
                fresh = ts - self.credit_ts <= 250_000_000
                self.credit = (self.credit if fresh else 0) + self.ahead - size
                self.credit_ts, self.ahead = ts, size
        elif kind == TRADE:
            if self.resting and side == BUY and price >= self.order.price_ticks:
                self._fill(ts, price, size)
        elif kind == CLEAR:
            self.bids, self.asks = {}, {}
            self.best_bid = self.best_ask = None

    def place(self) -> None:
        self.resting = True
        self.ahead = self.asks.get(self.order.price_ticks, 0)

    def _fill(self, ts: int, price: int, lots: int) -> None:
        left = self.order.size_lots - self.filled
        if price > self.order.price_ticks:
            take = min(left, lots)
        else:
            used = min(lots, self.credit) if ts - self.credit_ts <= 250_000_000 else 0
            self.credit -= used
            self.ahead -= lots - used
            take = 0
            if self.ahead < 0:
                take, self.ahead = min(left, -self.ahead), 0
        if take:
            self.filled += take
            self.first_fill = ts if self.first_fill is None else self.first_fill
            self.resting = self.filled < self.order.size_lots


def run_dict_book(rows: np.ndarray, order: Order) -> Row:
    columns = [rows[name].tolist() for name in ("ts_ns", "kind", "side", "price", "size")]
    watch = Stopwatch()
    book = DictBook(order)
    placed = False
    for ts, kind, side, price, size in zip(*columns, strict=True):
        if not placed and ts >= order.placed_ns:
            book.place()
            placed = True
        book.apply(ts, kind, side, price, size)
    seconds = watch.span()
    return Row(
        "(e) python dict book",
        "dict per side, best bid/ask kept, our order's queue; one Python call per row",
        volume(rows),
        seconds,
        fill_note(int(rows["ts_ns"][0]), book.first_fill, book.filled),
    )


def run_replay_book(rows: np.ndarray, order: Order) -> Row:
    columns = [rows[name].tolist() for name in ("ts_ns", "kind", "side", "price", "size", "aux")]
    watch = Stopwatch()
    book = ReplayBook()
    placed = False
    first_fill: int | None = None
    filled = 0
    for ts, kind, side, price, size, aux in zip(*columns, strict=True):
        if not placed and ts >= order.placed_ns:
            book.submit("ours", Side.SELL, order.price_ticks, order.size_lots, ours=True, rest=True)
            placed = True
        for match in book.apply(kind, side, price, size, aux, now=ts / 1e9):
            first_fill = ts if first_fill is None else first_fill
            filled += match.lots
    seconds = watch.span()
    return Row(
        "ReplayBook (oracle)",
        "the backtest's book today: Python MatchingEngine levels + virtual orders, per row",
        volume(rows),
        seconds,
        fill_note(int(rows["ts_ns"][0]), first_fill, filled),
    )


# -- (c) hftbacktest --------------------------------------------------------------------------------


def to_hftbacktest(rows: np.ndarray, tick: Decimal, lot: Decimal) -> np.ndarray:
    """Book/trade rows as hftbacktest events (exchange = local time; a CLEAR clears each side up to
    the snapshot's deepest level, as its own Binance converter does)."""
    import hftbacktest as hbt  # noqa: PLC0415 - an optional peer, imported only when installed

    kind, side, price = rows["kind"], rows["side"], rows["price"]
    base = hbt.EXCH_EVENT | hbt.LOCAL_EVENT
    side_flag = np.where(side == BID, hbt.BUY_EVENT, hbt.SELL_EVENT).astype(np.uint64)
    type_flag = np.where(kind == TRADE, hbt.TRADE_EVENT, hbt.DEPTH_EVENT).astype(np.uint64)
    clears = np.flatnonzero(kind == CLEAR)
    out = np.zeros(len(rows) + len(clears), hbt.event_dtype)
    # each CLEAR becomes two rows (bid side, ask side): shift every later row by the clears before it
    dest = np.arange(len(rows)) + np.searchsorted(clears, np.arange(len(rows)), side="right")
    out["ev"][dest] = base | type_flag | side_flag
    out["exch_ts"][dest] = out["local_ts"][dest] = rows["ts_ns"]
    out["px"][dest] = price * float(tick)
    out["qty"][dest] = rows["size"] * float(lot)
    ts = rows["ts_ns"]
    for c in clears:
        end = c + 1 + int(np.searchsorted(ts[c + 1 :], ts[c], side="right"))
        snap = rows[c + 1 : end]
        snap = snap[snap["kind"] == LEVEL]
        lowest_bid = snap["price"][snap["side"] == BID].min()
        highest_ask = snap["price"][snap["side"] != BID].max()
        d = dest[c]
        out[d - 1] = out[d]  # the row at dest[c] - 1 is free: searchsorted shifted c itself by one
        out["ev"][d - 1] = base | hbt.DEPTH_CLEAR_EVENT | hbt.BUY_EVENT
        out["px"][d - 1] = lowest_bid * float(tick)
        out["ev"][d] = base | hbt.DEPTH_CLEAR_EVENT | hbt.SELL_EVENT
        out["px"][d] = highest_ask * float(tick)
    return out


def run_hftbacktest(
    rows: np.ndarray, one_loop: np.ndarray, order: Order, stream: EventStream, depth: str
) -> Row:
    name = f"(c) {HFTBACKTEST} {depth}"
    work = "Rust book + queue; strategy wakes on every feed event, reads best bid/ask"
    if importlib.util.find_spec("hftbacktest") is None:
        return Row(name, work, None, None, "not importable here: run with bench/.venv-peers")
    import hftbacktest as hbt  # noqa: PLC0415 - an optional peer, imported only when installed
    from numba import njit  # noqa: PLC0415 - comes with hftbacktest

    scale = stream.products[0]
    tick, lot = float(scale.tick), float(scale.lot)
    gtx, limit = hbt.GTX, hbt.LIMIT  # plain ints, frozen into the compiled closure

    @njit
    def strategy(bt: Any, placed_ns: int, price: float, qty: float) -> tuple[int, float, float]:
        placed = False
        fill_ns = -1
        touch = 0.0
        while bt.wait_next_feed(False, 10**15) == 2:  # 2: a feed event arrived; 1: end of data
            depth = bt.depth(0)
            touch += depth.best_bid_tick + depth.best_ask_tick  # read the book, as a strategy would
            if not placed and bt.current_timestamp >= placed_ns:
                bt.submit_sell_order(0, 1, price, qty, gtx, limit, False)
                placed = True
            if fill_ns < 0 and bt.position(0) != 0.0:
                fill_ns = bt.current_timestamp
        return fill_ns, bt.position(0), touch

    def replay(events: np.ndarray, folder: Path) -> tuple[float, Span, int, float]:
        started = time.perf_counter()
        path = folder / "events.npz"
        np.savez(path, data=to_hftbacktest(events, scale.tick, scale.lot))
        asset = (
            hbt.BacktestAsset()
            .data(str(path))
            .linear_asset(1.0)
            .constant_order_latency(0, 0)
            .risk_adverse_queue_model()
            .partial_fill_exchange()
            .trading_value_fee_model(0.0, 0.0)
            .tick_size(tick)
            .lot_size(lot)
            .last_trades_capacity(0)
        )
        if depth == "ROIVector":  # the traded range +- 1 %: the snapshot's far levels would need GBs
            traded = events["price"][events["kind"] == TRADE]
            asset = asset.roi_lb(float(traded.min()) * tick * 0.99).roi_ub(float(traded.max()) * tick * 1.01)
            bt = hbt.ROIVectorMarketDepthBacktest([asset])
        else:
            bt = hbt.HashMapMarketDepthBacktest([asset])
        prep = time.perf_counter() - started
        watch = Stopwatch()
        fill_ns, position, _ = strategy(bt, order.placed_ns, order.price_ticks * tick, order.size_lots * lot)
        seconds = watch.span()
        bt.close()
        return prep, seconds, fill_ns, position

    with tempfile.TemporaryDirectory() as tmp:
        replay(one_loop, Path(tmp))
        prep, seconds, fill_ns, position = replay(rows, Path(tmp))
    note = fill_note(
        int(rows["ts_ns"][0]),
        None if fill_ns < 0 else fill_ns,
        round(-position / lot),
        f"RiskAverse + partial fills, convert + load {prep:.1f} s",
    )
    return Row(name, work, volume(rows), seconds, note)


# -- (d) NautilusTrader -----------------------------------------------------------------------------


def to_nautilus(rows: np.ndarray, instrument_id: Any, price_digits: int, size_digits: int) -> list[Any]:
    """Book/trade rows as Nautilus ``OrderBookDelta``/``TradeTick`` objects (raw fixed-point, exact)."""
    from nautilus_trader.model import objects  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.data import OrderBookDelta, TradeTick  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.enums import (  # noqa: PLC0415 - optional peer
        AggressorSide,
        BookAction,
        OrderSide,
        RecordFlag,
    )
    from nautilus_trader.model.identifiers import TradeId  # noqa: PLC0415 - optional peer

    price_raw = 10 ** (objects.FIXED_PRECISION - price_digits)
    size_raw = 10 ** (objects.FIXED_PRECISION - size_digits)
    last, snapshot = int(RecordFlag.F_LAST), int(RecordFlag.F_SNAPSHOT)
    kind, side = rows["kind"].tolist(), rows["side"].tolist()
    price, size, ts = rows["price"].tolist(), rows["size"].tolist(), rows["ts_ns"].tolist()
    out: list[Any] = []
    present: dict[int, set[int]] = {BID: set(), -BID: set()}
    snapshot_ts = -1
    n = len(kind)
    for i in range(n):
        k, t = kind[i], ts[i]
        if k == TRADE:
            aggressor = AggressorSide.BUYER if side[i] == BUY else AggressorSide.SELLER
            out.append(
                TradeTick.from_raw(
                    instrument_id,
                    price[i] * price_raw,
                    price_digits,
                    size[i] * size_raw,
                    size_digits,
                    aggressor,
                    TradeId(str(i)),
                    t,
                    t,
                )
            )
            continue
        if k == CLEAR:
            present = {BID: set(), -BID: set()}
            snapshot_ts = t
            out.append(
                OrderBookDelta.from_raw(
                    instrument_id, BookAction.CLEAR, OrderSide.NO_ORDER_SIDE, 0, 0, 0, 0, 0, snapshot, 0, t, t
                )
            )
            continue
        levels, p = present[side[i]], price[i]
        if size[i] == 0:
            if p not in levels:
                continue  # Binance repeats deletes of levels beyond a snapshot's depth
            levels.discard(p)
            action = BookAction.DELETE
        else:
            action = BookAction.UPDATE if p in levels else BookAction.ADD
            levels.add(p)
        ends = i + 1 == n or kind[i + 1] != LEVEL or ts[i + 1] != t
        flags = (last if ends else 0) | (snapshot if t == snapshot_ts else 0)
        order_side = OrderSide.BUY if side[i] == BID else OrderSide.SELL
        out.append(
            OrderBookDelta.from_raw(
                instrument_id,
                action,
                order_side,
                p * price_raw,
                price_digits,
                size[i] * size_raw,
                size_digits,
                0,
                flags,
                0,
                t,
                t,
            )
        )
    return out


def run_nautilus(rows: np.ndarray, one_loop: np.ndarray, order: Order) -> Row:
    name = "(d) NautilusTrader 1.231.0"
    work = "Rust/Cython engine, L2 book, queue position; bypass_logging=True"
    if importlib.util.find_spec("nautilus_trader") is None:
        return Row(name, work, None, None, "not importable here: run with bench/.venv-peers (Python >= 3.12)")
    from nautilus_trader.backtest.config import BacktestEngineConfig  # noqa: PLC0415 - optional peer
    from nautilus_trader.backtest.engine import BacktestEngine  # noqa: PLC0415 - optional peer
    from nautilus_trader.common.config import LoggingConfig  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.currencies import BTC, USDT  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.data import OrderBookDelta, TradeTick  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.enums import (  # noqa: PLC0415 - optional peer
        AccountType,
        BookType,
        OmsType,
        OrderSide,
        TimeInForce,
    )
    from nautilus_trader.model.identifiers import Venue  # noqa: PLC0415 - optional peer
    from nautilus_trader.model.objects import Money, Price, Quantity  # noqa: PLC0415 - optional peer
    from nautilus_trader.test_kit.providers import TestInstrumentProvider  # noqa: PLC0415 - optional peer
    from nautilus_trader.trading.strategy import Strategy  # noqa: PLC0415 - optional peer

    instrument = TestInstrumentProvider.btcusdt_binance()  # tick 0.01, size step 0.000001: our scale

    class OneRestingSell(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.fill_ns: int | None = None
            self.filled_raw = 0
            self.accepted = False

        def on_start(self) -> None:
            self.clock.set_time_alert_ns("place", order.placed_ns, self.place)

        def place(self, _event: Any) -> None:
            sell = self.order_factory.limit(
                instrument.id,
                OrderSide.SELL,
                Quantity.from_raw(order.size_lots * 10**10, 6),
                Price.from_raw(order.price_ticks * 10**14, 2),
                time_in_force=TimeInForce.GTC,
                post_only=True,
            )
            self.submit_order(sell)

        def on_order_accepted(self, _event: Any) -> None:
            self.accepted = True

        def on_order_filled(self, event: Any) -> None:
            self.filled_raw += event.last_qty.raw
            if self.fill_ns is None:
                self.fill_ns = event.ts_event

    def replay(events: np.ndarray) -> tuple[float, Span, OneRestingSell]:
        started = time.perf_counter()
        data = to_nautilus(events, instrument.id, instrument.price_precision, instrument.size_precision)
        engine = BacktestEngine(
            BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True), run_analysis=False)
        )
        engine.add_venue(
            Venue("BINANCE"),
            OmsType.NETTING,
            AccountType.CASH,
            [Money(1, BTC), Money(1_000_000, USDT)],
            book_type=BookType.L2_MBP,
            trade_execution=True,
            queue_position=True,
        )
        engine.add_instrument(instrument)
        engine.add_data([d for d in data if isinstance(d, OrderBookDelta)])
        engine.add_data([d for d in data if isinstance(d, TradeTick)])
        strategy = OneRestingSell()
        engine.add_strategy(strategy)
        prep = time.perf_counter() - started
        watch = Stopwatch()
        engine.run()
        seconds = watch.span()
        engine.dispose()
        return prep, seconds, strategy

    replay(one_loop)
    prep, seconds, strategy = replay(rows)
    accepted = "accepted" if strategy.accepted else "NOT accepted"
    extra = f"{accepted}, convert + load {prep:.1f} s"
    note = fill_note(int(rows["ts_ns"][0]), strategy.fill_ns, strategy.filled_raw // 10**10, extra)
    return Row(name, work, volume(rows), seconds, note)


# -- the table ----------------------------------------------------------------------------------------


def best_of(repeat: int, run: Callable[[], Row]) -> Row:
    """The one of ``repeat`` runs of ``run`` with the least CPU time (a row not run here: the first)."""
    runs = [run() for _ in range(max(repeat, 1))]
    timed = [r for r in runs if r.seconds is not None]
    return min(timed, key=lambda r: r.seconds.cpu if r.seconds else 0.0) if timed else runs[0]


def render(rows: Sequence[Row]) -> str:
    reference = next((r for r in rows if r.engine.endswith(f"{HFTBACKTEST} HashMap") and r.seconds), None)
    ref_rate = (
        reference.volume.messages / reference.seconds.cpu
        if reference and reference.volume and reference.seconds
        else None
    )
    header = (
        f"{'engine':<30} {'messages':>11} {'level rows':>11} {'cpu s':>7} {'wall s':>7} {'msg/s':>12} "
        f"{'level rows/s':>13} {'vs hbt HashMap':>14}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.volume is None or row.seconds is None:
            dash = "-"
            lines.append(
                f"{row.engine:<30} {dash:>11} {dash:>11} {dash:>7} {dash:>7} {dash:>12} {dash:>13} {dash:>14}"
            )
        else:
            cpu = row.seconds.cpu
            rate = row.volume.messages / cpu
            ratio = f"{rate / ref_rate:.2f}x" if ref_rate else "-"
            lines.append(
                f"{row.engine:<30} {row.volume.messages:>11,} {row.volume.level_rows:>11,} "
                f"{cpu:>7.2f} {row.seconds.wall:>7.2f} {rate:>12,.0f} {row.volume.level_rows / cpu:>13,.0f} "
                f"{ratio:>14}"
            )
        lines.append(f"{'':<30}   work: {row.work}; {row.note}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--min-rows", type=int, default=10_000_000, help="book + trade rows to replay")
    parser.add_argument("--python-loops", type=int, default=3, help="capture loops for the Python rows")
    parser.add_argument("--ticks-above", type=int, default=2000, help="our sell's price above the best ask")
    parser.add_argument("--size-lots", type=int, default=1000, help="our sell's size (lots of 0.000001 BTC)")
    parser.add_argument("--peers", default="hftbacktest,nautilus", help="comma-separated; empty for none")
    parser.add_argument(
        "--episodes", type=int, default=100_000, help="(a): episodes (at most as many as fit)"
    )
    parser.add_argument("--deadline", type=float, default=120.0, help="(a): each episode's deadline, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the least CPU time is kept")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*utcnow is deprecated")  # inside nautilus_trader's run()
    logging.getLogger("makerfirst").setLevel(logging.ERROR)  # (a)'s engine transcript, as the CLI does
    pinned = "not pinned"
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})  # one core for every engine
        pinned = f"pinned to core {core}"

    stream = read_capture(data_dir() / CAPTURE)
    order = choose_order(stream.events, args.ticks_above, args.size_lots)
    one_loop = book_and_trade_rows(stream.events)
    loops = -(-args.min_rows // len(one_loop))
    looped = loop_events(one_loop, loops)
    python_rows = loop_events(one_loop, min(args.python_loops, loops))
    per_loop = volume(one_loop)
    print(
        f"BTCUSDT capture: {per_loop.messages:,} messages ({per_loop.level_rows:,} level rows) a loop, "
        f"BBO excluded; x {loops} loops for the compiled and peer rows, x {min(args.python_loops, loops)} "
        f"for the Python rows. One post-only sell of {order.size_lots} lots at {order.price_ticks} ticks "
        f"placed 60 s in (best ask + {args.ticks_above} ticks). {machine()}, "
        f"Python {platform.python_version()}, {pinned}"
        + (f", best of {args.repeat} runs per row." if args.repeat > 1 else ".")
    )
    runs: list[Callable[[], Row]] = [
        lambda: run_backtest_path(looped, stream, args.episodes, args.deadline),
        lambda: run_compiled(looped, one_loop, stream, order, wake_on_bbo=False),
        lambda: run_compiled(looped, one_loop, stream, order, wake_on_bbo=True),
        lambda: run_dict_book(python_rows, order),
        lambda: run_replay_book(python_rows, order),
    ]
    peers: dict[str, list[Callable[[], Row]]] = {
        "hftbacktest": [
            lambda: run_hftbacktest(looped, one_loop, order, stream, "HashMap"),
            lambda: run_hftbacktest(looped, one_loop, order, stream, "ROIVector"),
        ],
        "nautilus": [lambda: run_nautilus(looped, one_loop, order)],
    }
    for name in filter(None, args.peers.split(",")):
        runs += peers[name.strip()]
    rows = [best_of(args.repeat, run) for run in runs]
    print(render(rows))
    missing = [r.engine for r in rows if r.seconds is None]
    if missing:
        print(f"not run here: {', '.join(missing)} (see the docstring: bench/.venv-peers); no ratios.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
