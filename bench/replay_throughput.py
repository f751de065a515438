"""Replay throughput: our fast kernel vs hftbacktest and NautilusTrader on the same BTCUSDT capture.

Every engine replays the same rows (the Binance BTCUSDT capture decoded by ``read_capture``, looped
until there are at least ``--min-events`` rows, timestamps shifted by the capture's span each loop)
with ONE resting post-only sell: placed 60 s in, ``--ticks-above`` ticks above the venue's best ask
then, ``--size-lots`` lots. Each engine gets the data in its own format, converted at run time (a
temp dir for hftbacktest's ``.npz``; Nautilus gets its data objects in memory), then one warm-up on
one loop (JIT compiles), then one timed run over all loops. Only the replay is timed (not the
conversion or the data loading, which the note column reports). The process is pinned to one core.

Counted events: ours counts every row of our stream (book, trade and BBO rows); the peers get the
book and trade rows only (our BBO rows would overwrite hftbacktest's depth; Nautilus needs no quotes
for an L2 book), and Nautilus no deletes of absent levels, so their counts are lower.

Run it (the peers need Python >= 3.12 for nautilus-trader 1.231.0):

    python3.12 -m venv bench/.venv-peers
    bench/.venv-peers/bin/pip install -e . numba hftbacktest==2.4.4 nautilus-trader==1.231.0
    bench/.venv-peers/bin/python bench/replay_throughput.py

With the project venv alone (``.venv/bin/python bench/replay_throughput.py``) the peer rows say they
are not importable. The data directory is ``$MAKERFIRST_DATA_DIR``, else ``<repo>/../shared/data``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from makerfirst.replay import fast
from makerfirst.replay.events import BBO, BID, BUY, CLEAR, LEVEL, TRADE, EventStream
from makerfirst.replay.readers import read_capture

CAPTURE = Path("binance-btcusdt-2024-08-08") / "btcusdt_20240808.gz"


@dataclass(frozen=True, slots=True)
class Order:
    placed_ns: int
    price_ticks: int
    size_lots: int


@dataclass(frozen=True, slots=True)
class Row:
    engine: str
    events: int | None
    seconds: float | None
    note: str


def data_dir() -> Path:
    override = os.environ.get("MAKERFIRST_DATA_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def loop_events(events: np.ndarray, loops: int) -> np.ndarray:
    """``events`` repeated ``loops`` times, each copy shifted by the capture's span + 1 ns."""
    span = int(events["ts_ns"][-1] - events["ts_ns"][0]) + 1
    out = np.concatenate([events] * loops)
    shift = np.repeat(np.arange(loops, dtype=np.int64) * span, len(events))
    out["ts_ns"] += shift
    return out


def choose_order(events: np.ndarray, ticks_above: int, size_lots: int) -> Order:
    placed = int(events["ts_ns"][0]) + 60 * 10**9
    bbo = events[events["kind"] == BBO]
    ask = int(bbo["aux"][np.searchsorted(bbo["ts_ns"], placed)])
    return Order(placed, ask + ticks_above, size_lots)


def fill_note(start_ns: int, fill_ns: int | None, filled_lots: int, extra: str = "") -> str:
    when = (
        "no fill" if fill_ns is None else f"filled {filled_lots} lots at +{(fill_ns - start_ns) / 1e9:.3f} s"
    )
    return f"{when}{'; ' + extra if extra else ''}"


def run_ours(looped: np.ndarray, one_loop: np.ndarray, order: Order) -> tuple[Row, float]:
    def call(events: np.ndarray) -> fast.RestingSellResult:
        return fast.replay_resting_sell(
            events,
            product=0,
            price_ticks=order.price_ticks,
            size_lots=order.size_lots,
            placed_ns=order.placed_ns,
        )

    call(one_loop)  # numba compiles (or loads its cache)
    started = time.perf_counter()
    result = call(looped)
    seconds = time.perf_counter() - started
    note = fill_note(int(looped["ts_ns"][0]), result.first_fill_ns, result.filled_lots, result.outcome.name)
    return Row("makerfirst fast (numba)", result.events_processed, seconds, note), seconds


def to_hftbacktest(events: np.ndarray, tick: Decimal, lot: Decimal) -> np.ndarray:
    """Our rows as hftbacktest events (exchange = local time; a CLEAR clears each side up to the
    snapshot's deepest level, as its own Binance converter does); BBO rows dropped."""
    import hftbacktest as hbt  # noqa: PLC0415 - an optional peer, imported only when installed

    rows = events[events["kind"] != BBO]
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


def run_hftbacktest(looped: np.ndarray, one_loop: np.ndarray, order: Order, stream: EventStream) -> Row:
    if importlib.util.find_spec("hftbacktest") is None:
        return Row("hftbacktest 2.4.4", None, None, "not importable here: run with bench/.venv-peers")
    import hftbacktest as hbt  # noqa: PLC0415 - an optional peer, imported only when installed
    from numba import njit  # noqa: PLC0415 - comes with hftbacktest

    scale = stream.products[0]
    gtx, limit = hbt.GTX, hbt.LIMIT  # plain ints, frozen into the compiled closure

    @njit
    def strategy(bt: Any, placed_ns: int, price: float, qty: float) -> tuple[int, float]:
        bt.wait_next_feed(False, 10**15)  # the clock starts at the first row
        bt.elapse(placed_ns - bt.current_timestamp)
        bt.submit_sell_order(0, 1, price, qty, gtx, limit, False)
        fill_ns = -1
        while bt.elapse(100_000_000) == 0:
            if fill_ns < 0 and bt.position(0) != 0.0:
                fill_ns = bt.current_timestamp
        return fill_ns, bt.position(0)

    def replay(events: np.ndarray, folder: Path) -> tuple[float, float, int, float, int]:
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
            .tick_size(float(scale.tick))
            .lot_size(float(scale.lot))
            .last_trades_capacity(0)
        )
        bt = hbt.HashMapMarketDepthBacktest([asset])
        prepared = time.perf_counter()
        fill_ns, position = strategy(
            bt, order.placed_ns, order.price_ticks * float(scale.tick), order.size_lots * float(scale.lot)
        )
        done = time.perf_counter()
        bt.close()
        rows = int((events["kind"] != BBO).sum() + (events["kind"] == CLEAR).sum())
        return prepared - started, done - prepared, fill_ns, position, rows

    with tempfile.TemporaryDirectory() as tmp:
        replay(one_loop, Path(tmp))
        prep, seconds, fill_ns, position, rows = replay(looped, Path(tmp))
    lots = round(-position / float(scale.lot))
    note = fill_note(
        int(looped["ts_ns"][0]),
        None if fill_ns < 0 else fill_ns,
        lots,
        f"RiskAverse+partial, convert+load {prep:.1f} s",
    )
    return Row("hftbacktest 2.4.4", rows, seconds, note)


def to_nautilus(events: np.ndarray, instrument_id: Any, price_digits: int, size_digits: int) -> list[Any]:
    """Our rows as Nautilus ``OrderBookDelta``/``TradeTick`` objects (raw fixed-point, exact)."""
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
    rows = events[events["kind"] != BBO]
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


def run_nautilus(looped: np.ndarray, one_loop: np.ndarray, order: Order) -> Row:
    name = "NautilusTrader 1.231.0"
    if importlib.util.find_spec("nautilus_trader") is None:
        return Row(name, None, None, "not importable here: run with bench/.venv-peers (Python >= 3.12)")
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

    def replay(events: np.ndarray) -> tuple[float, float, int, OneRestingSell]:
        started = time.perf_counter()
        data = to_nautilus(events, instrument.id, instrument.price_precision, instrument.size_precision)
        engine = BacktestEngine(
            BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR"), run_analysis=False)
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
        prepared = time.perf_counter()
        engine.run()
        done = time.perf_counter()
        engine.dispose()
        return prepared - started, done - prepared, len(data), strategy

    replay(one_loop)
    prep, seconds, rows, strategy = replay(looped)
    accepted = "accepted" if strategy.accepted else "NOT accepted"
    extra = f"queue_position=True, {accepted}, convert+load {prep:.1f} s"
    note = fill_note(int(looped["ts_ns"][0]), strategy.fill_ns, strategy.filled_raw // 10**10, extra)
    return Row(name, rows, seconds, note)


def what_bounds_us(looped: np.ndarray, order: Order, ours_seconds: float) -> str:
    """Time a bare compiled pass reading the same columns, and the kernel's pre-passes."""
    from numba import njit  # noqa: PLC0415 - numba is the kernel's optional accelerator

    @njit(cache=False)
    def bare(
        product: np.ndarray, kind: np.ndarray, side: np.ndarray, price: np.ndarray, size: np.ndarray
    ) -> int:
        acc = 0
        for i in range(product.shape[0]):
            acc += product[i] + kind[i] + side[i] + (price[i] ^ size[i])
        return acc

    cols = (looped["product"], looped["kind"], looped["side"], looped["price"], looped["size"])
    bare(*(c[:10] for c in cols))
    started = time.perf_counter()
    bare(*cols)
    scan = time.perf_counter() - started
    started = time.perf_counter()
    _, window, below, above = fast.level_layout(looped, 0, order.price_ticks)
    layout_seconds = time.perf_counter() - started
    book = max(ours_seconds - layout_seconds, 0.0)
    rows = len(looped)
    n_far = len(below) + len(above)
    layout = (
        f"a {window:,}-tick dense window around our price + {n_far:,} far levels by rank"
        if n_far
        else f"all {window:,} ticks dense"
    )
    bound = (
        "per-row work (kind/side branches, the level store, best-price rescans), not memory traffic"
        if book > 3 * scan
        else "memory traffic over the strided columns"
    )
    return (
        f"what bounds us: {rows / 1e6:.1f} M rows of {looped.dtype.itemsize} B "
        f"({looped.nbytes / 1e6:.0f} MB); "
        f"a bare compiled read of the same columns takes {scan:.2f} s ({scan / rows * 1e9:.1f} ns/row); "
        f"the level-layout pre-passes {layout_seconds:.2f} s ({layout}); the book + queue loop "
        f"{book:.2f} s ({book / rows * 1e9:.1f} ns/row). So: {bound}; one core, no Python per event."
    )


def render(rows: Sequence[Row], ours_rate: float) -> str:
    header = f"{'engine':<26} {'events':>11} {'seconds':>8} {'events/s':>11} {'vs ours':>8}  note"
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.events is None or row.seconds is None:
            lines.append(f"{row.engine:<26} {'-':>11} {'-':>8} {'-':>11} {'-':>8}  {row.note}")
            continue
        rate = row.events / row.seconds
        lines.append(
            f"{row.engine:<26} {row.events:>11,} {row.seconds:>8.2f} {rate:>11,.0f} "
            f"{rate / ours_rate:>7.2f}x  {row.note}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--min-events", type=int, default=10_000_000)
    parser.add_argument("--ticks-above", type=int, default=2000, help="our sell's price above the best ask")
    parser.add_argument("--size-lots", type=int, default=1000, help="our sell's size (lots of 0.000001 BTC)")
    parser.add_argument("--peers", default="hftbacktest,nautilus", help="comma-separated; empty for none")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*utcnow is deprecated")  # inside nautilus_trader's run()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for every engine

    stream = read_capture(data_dir() / CAPTURE)
    one_loop = stream.events
    loops = -(-args.min_events // len(one_loop))
    looped = loop_events(one_loop, loops)
    order = choose_order(one_loop, args.ticks_above, args.size_lots)
    print(
        f"BTCUSDT capture: {len(one_loop):,} rows x {loops} loops = {len(looped):,} rows; one post-only "
        f"sell of {order.size_lots} lots at {order.price_ticks} ticks placed 60 s in "
        f"(best ask + {args.ticks_above} ticks)"
    )
    ours, ours_seconds = run_ours(looped, one_loop, order)
    rows = [ours]
    peers: dict[str, Callable[[], Row]] = {
        "hftbacktest": lambda: run_hftbacktest(looped, one_loop, order, stream),
        "nautilus": lambda: run_nautilus(looped, one_loop, order),
    }
    for name in filter(None, args.peers.split(",")):
        rows.append(peers[name.strip()]())
    assert ours.events is not None
    print(render(rows, ours.events / ours_seconds))
    print(what_bounds_us(looped, order, ours_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
