"""Fit a product's synthetic-market parameters (``MarketParams``) from a window of its tape.

A capture is minutes long at best (the Coinbase sample: 31 s), shorter than one purge; a market
calibrated from it can run episodes of any length on ``SyntheticMarket``. Fit only on the
calibration window (``episodes.split_window``): replay episodes are drawn from the rest.

What is measured (the book is rebuilt from the tape and sampled every ``sample_sec``; amounts
in the product's quote currency, which is what ``SyntheticMarket`` reads its ``*_usd`` fields as):

* ``half_spread_bps``: half the median quoted spread;
* ``levels`` / ``level_spacing_bps``: the mean number of levels per side within 1 % of the mid
  (capped at 40 to keep episodes fast) and 100 bps divided by that count;
* ``level_depth_usd``: the median notional at the best bid and ask (pooled);
* ``depth_growth``: ``exp`` of the slope of log median notional over the top 10 level indices;
* ``taker_buy_per_sec`` / ``taker_sell_per_sec``: taker orders per second and side. A taker order
  is a run of same-side trades less than ``taker_gap_sec`` apart (one order walking several makers);
* ``taker_median_usd``, ``taker_max_usd``: the median and largest taker-order notional;
* ``taker_tail_alpha``: the Hill estimate over the top quarter of taker sizes, clamped to
  [1.05, 3] (below 1 the mean is infinite; too few orders make it noise);
* ``vol_per_sqrt_sec``: the standard deviation of one-second log changes of the mid;
* ``refresh_per_sec``: changes of the best bid or ask price per second, clamped to [0.2, 10].

Whatever a window is too thin to measure falls back to a stated default, listed in ``notes``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.adapters.sim.market import MarketParams
from makerfirst.adapters.sim.presets import THIN
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import BID, BUY, CLEAR, LEVEL, TRADE

MAX_LEVELS = 40
TOP_LEVELS = 10


@dataclass(frozen=True, slots=True)
class Calibration:
    """Fitted parameters and the facts they came from. ``start_price`` is the mid at the window's end."""

    product_id: str
    window: Window
    params: MarketParams
    start_price: Decimal
    samples: int
    trades: int
    taker_orders: int
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        p = self.params
        return {
            "product": self.product_id,
            "window_sec": [round(self.window.start, 3), round(self.window.end, 3)],
            "start_price": str(self.start_price),
            "samples": self.samples,
            "trades": self.trades,
            "taker_orders": self.taker_orders,
            "params": {
                "half_spread_bps": p.half_spread_bps,
                "levels": p.levels,
                "level_spacing_bps": p.level_spacing_bps,
                "level_depth_quote": p.level_depth_usd,
                "depth_growth": p.depth_growth,
                "taker_buy_per_sec": p.taker_buy_per_sec,
                "taker_sell_per_sec": p.taker_sell_per_sec,
                "taker_median_quote": p.taker_median_usd,
                "taker_tail_alpha": p.taker_tail_alpha,
                "taker_max_quote": p.taker_max_usd,
                "vol_per_sqrt_sec": p.vol_per_sqrt_sec,
                "refresh_per_sec": p.refresh_per_sec,
            },
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class _Samples:
    spreads_bps: list[float]
    touch_quote: list[float]
    depth_by_index: list[list[float]]
    levels_1pct: list[int]
    mids: list[float]  # ticks, one per sample
    bbo_changes: int = 0


class _Book:
    """Displayed levels (ticks → lots) with the best prices kept up to date as rows arrive."""

    __slots__ = ("ask", "asks", "bid", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid: int | None = None
        self.ask: int | None = None

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.bid = self.ask = None

    def set(self, side: int, price: int, lots: int) -> None:
        if side == BID:
            if lots > 0:
                self.bids[price] = lots
                self.bid = price if self.bid is None else max(self.bid, price)
            elif self.bids.pop(price, None) is not None and price == self.bid:
                self.bid = max(self.bids, default=None)  # only a removed best costs a scan
        elif lots > 0:
            self.asks[price] = lots
            self.ask = price if self.ask is None else min(self.ask, price)
        elif self.asks.pop(price, None) is not None and price == self.ask:
            self.ask = min(self.asks, default=None)


def calibrate(
    tape: ProductTape,
    window: Window,
    *,
    sample_sec: float | None = None,
    taker_gap_sec: float = 0.002,
) -> Calibration:
    """Fit ``MarketParams`` for ``tape``'s product on ``window`` (events before it only build the book)."""
    if window.length <= 0:
        raise MakerfirstError(f"{tape.product_id}: empty calibration window")
    dt = sample_sec if sample_sec is not None else max(0.1, window.length / 500)
    quote_per_tick_lot = float(tape.scale.tick * tape.scale.lot)
    book = _Book()
    samples = _Samples([], [], [[] for _ in range(TOP_LEVELS)], [], [])
    trades: list[tuple[float, int, float]] = []  # (time, side, quote notional)
    next_sample = window.start
    last_bbo: tuple[int | None, int | None] = (None, None)
    for i, t in enumerate(tape.times):
        if t >= window.end:
            break
        while next_sample <= t:
            _sample(book, samples, quote_per_tick_lot)
            next_sample += dt
        kind = tape.kinds[i]
        if kind == LEVEL:
            book.set(tape.sides[i], tape.prices[i], tape.sizes[i])
        elif kind == CLEAR:
            book.clear()
        elif kind == TRADE and t >= window.start:
            trades.append((t, tape.sides[i], tape.prices[i] * tape.sizes[i] * quote_per_tick_lot))
        if t >= window.start and (book.bid, book.ask) != last_bbo:
            samples.bbo_changes += last_bbo != (None, None)
            last_bbo = (book.bid, book.ask)
    while next_sample < window.end:  # a quiet tail still counts: the book just stood still
        _sample(book, samples, quote_per_tick_lot)
        next_sample += dt
    if not samples.mids:
        raise MakerfirstError(f"{tape.product_id}: no two-sided book in the calibration window")
    params, notes, orders = _fit(
        tape.product_id, window, dt, samples, trades=trades, taker_gap_sec=taker_gap_sec
    )
    start_price = Decimal(repr(samples.mids[-1])) * tape.scale.tick
    return Calibration(
        tape.product_id, window, params, start_price, len(samples.mids), len(trades), orders, notes
    )


def _sample(book: _Book, out: _Samples, quote_per_tick_lot: float) -> None:
    bids, asks = book.bids, book.asks
    if not bids or not asks:
        return
    top_bids = heapq.nlargest(TOP_LEVELS, bids)
    top_asks = heapq.nsmallest(TOP_LEVELS, asks)
    bid, ask = top_bids[0], top_asks[0]
    mid = (bid + ask) / 2
    out.mids.append(mid)
    out.spreads_bps.append((ask - bid) / mid * 10_000)
    for side_top, levels in ((top_bids, bids), (top_asks, asks)):
        for index, price in enumerate(side_top):
            out.depth_by_index[index].append(price * levels[price] * quote_per_tick_lot)
        out.touch_quote.append(side_top[0] * levels[side_top[0]] * quote_per_tick_lot)
    band = mid * 0.01
    within = sum(1 for p in bids if mid - p <= band) + sum(1 for p in asks if p - mid <= band)
    out.levels_1pct.append(within)


def _taker_orders(trades: list[tuple[float, int, float]], gap: float) -> list[tuple[int, float]]:
    orders: list[tuple[int, float]] = []
    last_time, last_side = -math.inf, 0
    for t, side, notional in trades:
        if orders and side == last_side and t - last_time <= gap:
            orders[-1] = (side, orders[-1][1] + notional)
        else:
            orders.append((side, notional))
        last_time, last_side = t, side
    return orders


def hill_alpha(sizes: list[float]) -> float | None:
    """Hill estimate of a Pareto tail index over the top quarter of ``sizes`` (None if too few)."""
    ordered = sorted((s for s in sizes if s > 0), reverse=True)
    k = len(ordered) // 4
    if k < 2:
        return None
    threshold = ordered[k]
    logs = sum(math.log(s / threshold) for s in ordered[:k])
    return k / logs if logs > 0 else None


def _fit(
    product_id: str,
    window: Window,
    dt: float,
    s: _Samples,
    *,
    trades: list[tuple[float, int, float]],
    taker_gap_sec: float,
) -> tuple[MarketParams, tuple[str, ...], int]:
    notes: list[str] = []
    length = window.length
    half_spread = statistics.median(s.spreads_bps) / 2
    per_side_levels = statistics.fmean(s.levels_1pct) / 2
    spacing = 100 / max(1.0, per_side_levels)
    levels = max(5, min(MAX_LEVELS, round(per_side_levels)))
    touch = statistics.median(s.touch_quote)
    medians = [statistics.median(d) for d in s.depth_by_index if d]
    growth = 1.0
    if len(medians) >= 3 and all(m > 0 for m in medians):
        xs = list(range(len(medians)))
        ys = [math.log(m) for m in medians]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        growth = min(1.5, max(0.8, math.exp(slope)))
    orders = _taker_orders(trades, taker_gap_sec)
    buys = sum(1 for side, _ in orders if side == BUY)
    sells = len(orders) - buys
    sizes = [notional for _, notional in orders]
    if sizes:
        median_size, max_size = statistics.median(sizes), max(sizes)
    else:
        median_size, max_size = touch / 4, touch * 10
        notes.append(
            "no trades in the window: taker sizes default to a quarter of the touch (max 10 touches)"
        )
    alpha = hill_alpha(sizes)
    if alpha is None:
        alpha = THIN.taker_tail_alpha
        notes.append(
            f"too few taker orders for a tail estimate: taker_tail_alpha = {alpha} (the thin preset's)"
        )
    alpha = min(3.0, max(1.05, alpha))
    step = max(1, round(1.0 / dt))  # one-second returns from the sample grid
    seconds = s.mids[::step]
    returns = [math.log(b / a) for a, b in itertools.pairwise(seconds) if a > 0 and b > 0]
    vol = statistics.pstdev(returns) if len(returns) >= 2 else 0.0
    if len(returns) < 2:
        notes.append("window shorter than 3 s: volatility set to 0")
    refresh = min(10.0, max(0.2, s.bbo_changes / length))
    params = MarketParams(
        name=f"calibrated:{product_id}",
        half_spread_bps=round(half_spread, 4),
        levels=levels,
        level_spacing_bps=round(spacing, 4),
        level_depth_usd=touch,
        depth_growth=round(growth, 4),
        taker_buy_per_sec=buys / length,
        taker_sell_per_sec=sells / length,
        taker_median_usd=median_size,
        taker_tail_alpha=round(alpha, 4),
        taker_max_usd=max(max_size, median_size),
        vol_per_sqrt_sec=vol,
        refresh_per_sec=round(refresh, 4),
    )
    return params, tuple(notes), len(orders)
