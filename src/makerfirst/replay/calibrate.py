"""Fit a product's synthetic market (``MarketParams``, see ``adapters/sim/market.py``) from its tape.

Fit only on the calibration window (``episodes.split_window``): events before it only build the
book. Every number comes from the L2 diffs and trades inside the window, rebuilt into a book:

* ``touch_quote``: the median resting notional at the best bid and ask (both sides pooled, on a
  grid of ``sample_sec``); all sizes below are in units of it;
* ``median_spread_bps``: the median quoted spread on the same grid;
* ``add_per_sec`` / ``cancel_per_sec`` (queue-reactive, by bucket of the touch queue in touch
  units): an increase of the size at the best price is one order joining; a decrease that no
  trade at that price explains (within ``PAIRING_SEC`` either way: Coinbase sends the match and
  its ``l2update`` in either order) is one cancellation. Each count is divided by the time the
  touch spent in that bucket, bid and ask pooled (one rate per side); ``cancel_spread_factor``:
  how much more often cancellations come in each spread state (one tick, or its bucket in median
  spreads) than on average (makers pull quotes when the other side has just moved);
* ``improve_per_sec`` (by bucket of the spread in units of its median): a new level strictly
  inside the spread; ``improve_spread_q``: the spread it left, in units of the median spread
  (makers quote against the other side: this is what pulls a wide spread back);
* ``add_size_q``: sizes of those joins and improvements; ``deep_size_q`` / ``gap_bps_q``: sizes of
  the levels behind the touch and the gaps between consecutive levels (top ``levels``, grid);
  ``touch_gap_bps_q``: the gap between the touch and the level behind it, apart (books are
  densest there);
  ``deep_churn_per_sec``: changes to a level behind the touch, per side and second;
* ``taker_*_per_sec``: taker orders per side and second (a run of same-side trades less than
  ``taker_gap_sec`` apart is one order walking several makers); ``taker_size_q``: their notional;
* ``hawkes_branching`` / ``hawkes_decay_per_sec``: maximum likelihood on a grid for an exponential
  Hawkes kernel shared by both sides (and, with ``pool``, by every product of the capture), each
  side with its own base rate; kept at 0 (Poisson) unless it raises the log-likelihood by more
  than 2 (AIC for the two extra numbers).

A ~15 s window supports little per bucket, so the fit pools where the data are thin, and says so
in ``notes``: bucket rates are shrunk toward the product's all-bucket rate with ``SHRINK_SEC`` of
pseudo-exposure; taker sizes and the Hawkes kernel come from ``pool`` (other products of the same
capture, in touch units) when the product has fewer than ``MIN_TAKERS`` taker orders. Taker
*rates* are never pooled: a product without taker buys gets no taker buys.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from makerfirst.adapters.sim.market import QUEUE_EDGES, SPREAD_EDGES, MarketParams, bucket
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import BID, BUY, CLEAR, LEVEL, TRADE

LEVELS = 10
PAIRING_SEC = 0.25
SHRINK_SEC = 1.0
MIN_TAKERS = 5
FAIR_LAG_SEC = 5
KNOTS = 9  # quantiles kept of each fitted distribution: min, 12.5 %, …, max
HAWKES_BRANCHING_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
HAWKES_DECAY_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
# When nothing in the window (or the pool) measures taker sizes: a tenth of the touch, up to ten
# touches (stated in the notes, never silent).
DEFAULT_TAKER_SIZE_Q = (0.01, 0.03, 0.05, 0.08, 0.1, 0.2, 0.5, 1.0, 10.0)


@dataclass(slots=True)
class TapeFit:
    """What one product's window shows, before it becomes parameters (poolable across products)."""

    product_id: str
    length: float
    touch_quote: list[float] = field(default_factory=list)  # grid samples, both sides
    spreads_bps: list[float] = field(default_factory=list)
    gaps_bps: list[float] = field(default_factory=list)  # between consecutive levels behind the touch
    touch_gaps_bps: list[float] = field(default_factory=list)  # between the touch and the level behind it
    deep_quote: list[float] = field(default_factory=list)
    levels_per_side: list[int] = field(default_factory=list)
    mids: list[float] = field(default_factory=list)  # ticks
    # (dt, bid touch notional, ask touch notional, spread bps or None if no quote fits inside)
    exposure: list[tuple[float, float, float, float | None]] = field(default_factory=list)
    adds: list[float] = field(default_factory=list)  # touch notional before each join
    cancels: list[float] = field(default_factory=list)
    cancel_spreads: list[float | None] = field(default_factory=list)  # spread bps before each one
    cancel_fracs: list[float] = field(default_factory=list)  # share of the touch queue each one removed
    improves: list[float] = field(default_factory=list)  # spread bps before each improvement
    improve_spreads_bps: list[float] = field(default_factory=list)  # the spread each one left
    add_sizes_quote: list[float] = field(default_factory=list)
    churn: int = 0  # resizes of a level behind the touch
    removals: list[int] = field(default_factory=lambda: [0] * (LEVELS - 1))  # by rank behind the touch
    trades: int = 0
    takers: list[tuple[float, int, float]] = field(default_factory=list)  # (time from start, side, notional)

    def touch(self) -> float:
        return statistics.median(self.touch_quote) if self.touch_quote else 0.0

    def taker_sizes_touch(self) -> list[float]:
        touch = self.touch()
        return [n / touch for _, _, n in self.takers] if touch > 0 else []


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
        return {
            "product": self.product_id,
            "window_sec": [round(self.window.start, 3), round(self.window.end, 3)],
            "start_price": str(self.start_price),
            "samples": self.samples,
            "trades": self.trades,
            "taker_orders": self.taker_orders,
            "params": asdict(self.params),
            "notes": list(self.notes),
        }


class DisplayedBook:
    """Displayed levels (ticks → lots) with sorted prices, so the best and the rank are cheap."""

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_prices: list[int] = []  # ascending
        self.ask_prices: list[int] = []

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.bid_prices.clear()
        self.ask_prices.clear()

    @property
    def bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    @property
    def ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def set(self, side: int, price: int, lots: int) -> int:
        """Set a level; return its old size."""
        levels, prices = (self.bids, self.bid_prices) if side == BID else (self.asks, self.ask_prices)
        old = levels.get(price, 0)
        if lots > 0:
            if old == 0:
                bisect.insort(prices, price)
            levels[price] = lots
        elif old:
            del levels[price]
            del prices[bisect.bisect_left(prices, price)]
        return old

    def rank(self, side: int, price: int) -> int:
        """0 for the best level of ``side``, 1 for the next, …"""
        if side == BID:
            return len(self.bid_prices) - bisect.bisect_right(self.bid_prices, price)
        return bisect.bisect_left(self.ask_prices, price)

    def top(self, side: int, n: int) -> list[int]:
        return self.bid_prices[: -n - 1 : -1] if side == BID else self.ask_prices[:n]


def fit_statistics(
    tape: ProductTape, window: Window, *, sample_sec: float | None = None, taker_gap_sec: float = 0.002
) -> TapeFit:
    """Replay ``tape`` up to ``window.end`` and record what the fit needs from inside ``window``."""
    if window.length <= 0:
        raise MakerfirstError(f"{tape.product_id}: empty calibration window")
    dt_grid = sample_sec if sample_sec is not None else max(0.05, window.length / 500)
    fitter = _Fitter(tape, window)
    next_sample = window.start
    for i, t in enumerate(tape.times):
        if t >= window.end:
            break
        while next_sample <= t:
            _sample(fitter.book, fitter.fit, fitter.qpt)
            next_sample += dt_grid
        fitter.row(i, t)
    while next_sample < window.end:  # a quiet tail still counts: the book just stood still
        _sample(fitter.book, fitter.fit, fitter.qpt)
        next_sample += dt_grid
    return fitter.finish(taker_gap_sec)


class _Fitter:
    """Rebuilds the book row by row and classifies each row inside the window."""

    def __init__(self, tape: ProductTape, window: Window) -> None:
        self.tape = tape
        self.window = window
        self.qpt = float(tape.scale.tick * tape.scale.lot)  # quote notional of one lot at one tick
        self.fit = TapeFit(tape.product_id, window.length)
        self.book = DisplayedBook()
        self.last_t = window.start
        self.pending: dict[tuple[int, int], tuple[int, float]] = {}  # trade lots the book has not shown
        self.recent_cancel: dict[tuple[int, int], tuple[int, float]] = {}  # index into fit.cancels, time
        self.trades: list[tuple[float, int, float]] = []
        self.snapshot_time = math.nan

    def touch_notional(self, side: int) -> float:
        book = self.book
        best = book.bid if side == BID else book.ask
        if best is None:
            return 0.0
        return best * (book.bids if side == BID else book.asks)[best] * self.qpt

    def spread_inside(self) -> float | None:
        bid, ask = self.book.bid, self.book.ask
        if bid is None or ask is None or ask - bid <= 1:
            return None
        return (ask - bid) / ((ask + bid) / 2) * 10_000

    def _expose(self, until: float) -> None:
        """The book stood as it is from the last row until ``until``."""
        if until > self.last_t:
            self.fit.exposure.append(
                (
                    until - self.last_t,
                    self.touch_notional(BID),
                    self.touch_notional(-BID),
                    self.spread_inside(),
                )
            )
            self.last_t = until

    def row(self, i: int, t: float) -> None:
        tape = self.tape
        inside = t >= self.window.start
        if inside:
            self._expose(t)
        kind, side, price, size = tape.kinds[i], tape.sides[i], tape.prices[i], tape.sizes[i]
        if kind == CLEAR:
            self.book.clear()
            self.pending.clear()
            self.recent_cancel.clear()
            self.snapshot_time = t
        elif kind == TRADE and inside:
            self._trade(t, side, price, size)
        elif kind == LEVEL and t == self.snapshot_time:
            self.book.set(side, price, size)  # a snapshot's rows rebuild the book: no one acted
        elif kind == LEVEL:
            self._level(side, price, size, t, inside)

    def _trade(self, t: float, side: int, price: int, size: int) -> None:
        fit = self.fit
        fit.trades += 1
        self.trades.append((t - self.window.start, side, price * size * self.qpt))
        passive = -side
        undo = self.recent_cancel.pop((passive, price), None)
        if undo is not None and t - undo[1] <= PAIRING_SEC:
            fit.cancels[undo[0]] = math.nan  # that decrease was this trade, not a cancel
            fit.cancel_spreads[undo[0]] = math.nan
            fit.cancel_fracs[undo[0]] = math.nan
        else:
            lots, _ = self.pending.get((passive, price), (0, t))
            self.pending[passive, price] = (lots + size, t)

    def _level(self, side: int, price: int, lots: int, t: float, inside: bool) -> None:
        """Apply one level row, and count it as a join, a cancel, an improvement or a deep change."""
        book, fit, qpt = self.book, self.fit, self.qpt
        bid, ask = book.bid, book.ask
        best = bid if side == BID else ask
        touch_before = self.touch_notional(side)
        rank = book.rank(side, price)
        old = book.set(side, price, lots)
        if not inside or best is None or bid is None or ask is None:
            return
        if price == best:
            if lots > old:
                fit.adds.append(touch_before)
                fit.add_sizes_quote.append((lots - old) * price * qpt)
            elif lots < old:
                traded, when = self.pending.pop((side, price), (0, t))
                explained = min(old - lots, traded) if t - when <= PAIRING_SEC else 0
                if old - lots > explained:
                    self.recent_cancel[side, price] = (len(fit.cancels), t)
                    fit.cancels.append(touch_before)
                    fit.cancel_spreads.append(
                        (ask - bid) / ((ask + bid) / 2) * 10_000 if ask - bid > 1 else None
                    )
                    fit.cancel_fracs.append((old - lots - explained) / old)
        elif bid < price < ask:
            if lots > 0 and ask - bid > 1:
                fit.improves.append((ask - bid) / ((ask + bid) / 2) * 10_000)
                left = (ask - price) if side == BID else (price - bid)
                fit.improve_spreads_bps.append(left / ((ask + bid) / 2) * 10_000)
                fit.add_sizes_quote.append(lots * price * qpt)
        elif rank < LEVELS and lots != old and (price < best if side == BID else price > best):
            if lots == 0:
                fit.removals[rank - 1] += 1
            else:
                fit.churn += 1

    def finish(self, taker_gap_sec: float) -> TapeFit:
        fit = self.fit
        self._expose(self.window.end)
        kept = [i for i, c in enumerate(fit.cancels) if not math.isnan(c)]
        fit.cancel_spreads = [fit.cancel_spreads[i] for i in kept]
        fit.cancels = [fit.cancels[i] for i in kept]
        fit.cancel_fracs = [c for c in fit.cancel_fracs if not math.isnan(c)]
        fit.takers = taker_orders(self.trades, taker_gap_sec)
        if not fit.mids:
            raise MakerfirstError(f"{self.tape.product_id}: no two-sided book in the calibration window")
        return fit


def _sample(book: DisplayedBook, fit: TapeFit, qpt: float) -> None:
    bid, ask = book.bid, book.ask
    if bid is None or ask is None:
        return
    mid = (bid + ask) / 2
    fit.mids.append(mid)
    fit.spreads_bps.append((ask - bid) / mid * 10_000)
    for side, levels in ((BID, book.bids), (-BID, book.asks)):
        top = book.top(side, LEVELS)
        fit.levels_per_side.append(len(top))
        fit.touch_quote.append(top[0] * levels[top[0]] * qpt)
        for a, b in itertools.pairwise(top):
            (fit.touch_gaps_bps if a == top[0] else fit.gaps_bps).append(abs(a - b) / mid * 10_000)
            fit.deep_quote.append(b * levels[b] * qpt)


def taker_orders(trades: list[tuple[float, int, float]], gap: float) -> list[tuple[float, int, float]]:
    orders: list[tuple[float, int, float]] = []
    last_time, last_side = -math.inf, 0
    for t, side, notional in trades:
        if orders and side == last_side and t - last_time <= gap:
            start, _, total = orders[-1]
            orders[-1] = (start, side, total + notional)
        else:
            orders.append((t, side, notional))
        last_time, last_side = t, side
    return orders


def knots(values: Sequence[float]) -> tuple[float, ...]:
    """``KNOTS`` evenly spaced quantiles of ``values`` (min … max), linear between order statistics."""
    ordered = sorted(values)
    if not ordered:
        return ()
    last = len(ordered) - 1
    out = []
    for k in range(KNOTS):
        x = k * last / (KNOTS - 1)
        i = min(int(x), max(last - 1, 0))
        frac = x - i
        hi = ordered[min(i + 1, last)]
        out.append(round(ordered[i] + frac * (hi - ordered[i]), 6))
    return tuple(out)


def _bucket_rates(
    events: list[float], exposure: list[tuple[float, float]], edges: tuple[float, ...], unit: float
) -> tuple[float, ...]:
    """Per-side event rates by bucket of ``value / unit``, shrunk toward the all-bucket rate."""
    n = len(edges) + 1
    counts = [0] * n
    times = [0.0] * n
    for value in events:
        counts[bucket(value / unit, edges)] += 1
    for dt, value in exposure:
        times[bucket(value / unit, edges)] += dt
    total_time = sum(times)
    overall = sum(counts) / total_time if total_time > 0 else 0.0
    return tuple(
        round((c + SHRINK_SEC * overall) / (t + SHRINK_SEC), 6) for c, t in zip(counts, times, strict=True)
    )


def spread_state(spread_bps: float | None, median_spread_bps: float) -> int:
    """0 when no quote fits inside the spread (one tick), else 1 + its bucket (SPREAD_EDGES)."""
    if spread_bps is None:
        return 0
    return 1 + bucket(spread_bps / median_spread_bps, SPREAD_EDGES) if median_spread_bps > 0 else 1


def _spread_factors(
    events: list[float | None], exposure: list[tuple[float, float | None]], median_spread_bps: float
) -> tuple[float, ...]:
    """How much more (or less) often an event happens in each spread state than on average,
    shrunk toward 1 with ``SHRINK_SEC`` of pseudo-exposure."""
    n = len(SPREAD_EDGES) + 2
    counts = [0] * n
    times = [0.0] * n
    for value in events:
        counts[spread_state(value, median_spread_bps)] += 1
    for dt, value in exposure:
        times[spread_state(value, median_spread_bps)] += dt
    total_time = sum(times)
    overall = sum(counts) / total_time if total_time > 0 else 0.0
    if overall <= 0:
        return (1.0,) * n
    return tuple(
        round((c + SHRINK_SEC * overall) / (t + SHRINK_SEC) / overall, 6)
        for c, t in zip(counts, times, strict=True)
    )


def hawkes_loglik(times: Sequence[float], length: float, branching: float, decay: float) -> float:
    """Log-likelihood of event ``times`` in ``[0, length)`` under an exponential Hawkes process whose
    stationary rate is ``len(times) / length`` (base = that × (1 − branching))."""
    if not times:
        return 0.0
    base = len(times) / length * (1 - branching)
    jump = branching * decay
    ll, excess, last = 0.0, 0.0, times[0]
    for t in times:
        excess *= math.exp(-decay * (t - last))
        ll += math.log(base + jump * excess)
        excess += 1.0
        last = t
    compensator = base * length + branching * sum(1 - math.exp(-decay * (length - t)) for t in times)
    return ll - compensator


def fit_hawkes(sequences: Sequence[tuple[Sequence[float], float]]) -> tuple[float, float, float]:
    """(branching, decay, log-likelihood gain over Poisson) shared by ``sequences`` of (times, length)."""

    def total(n: float, b: float) -> float:
        return sum(hawkes_loglik(ts, length, n, b) for ts, length in sequences if length > 0)

    poisson = total(0.0, 1.0)
    best = (0.0, 1.0, poisson)
    for n in HAWKES_BRANCHING_GRID[1:]:
        for b in HAWKES_DECAY_GRID:
            ll = total(n, b)
            if ll > best[2]:
                best = (n, b, ll)
    gain = best[2] - poisson
    if gain <= 2.0:
        return 0.0, 1.0, gain
    return best[0], best[1], gain


def _side_times(fit: TapeFit) -> list[tuple[list[float], float]]:
    return [([t for t, s, _ in fit.takers if s == side], fit.length) for side in (BUY, -BUY)]


def _mid_jumps(fit: TapeFit) -> tuple[float, tuple[float, ...]]:
    """(rate, signed size knots in bps) of the fair price's moves: the mid's changes over
    ``FAIR_LAG_SEC`` (overlapping, one a second), so that quotes flickering in and out of the
    spread and straight back (bounce) do not count as moves; a lag in which the mid moved is one
    jump of that size."""
    per_sec = max(1, round(1.0 / (fit.length / max(len(fit.mids), 1))))
    lag = FAIR_LAG_SEC * per_sec
    moves = [
        math.log(b / a) * 10_000
        for a, b in zip(fit.mids[::per_sec], fit.mids[lag::per_sec], strict=False)
        if a > 0 and b > 0
    ]
    if not moves:
        return 0.0, (0.0,)
    moved = [m for m in moves if m != 0.0]
    if not moved:
        return 0.0, (0.0,)
    return round(len(moved) / len(moves) / FAIR_LAG_SEC, 6), knots(moved)


def params_from(
    fit: TapeFit, pool: Sequence[TapeFit] = (), *, name: str | None = None
) -> tuple[MarketParams, tuple[str, ...]]:
    """Turn one product's ``TapeFit`` into ``MarketParams``; ``pool`` lends what it is too thin for."""
    notes: list[str] = []
    touch = fit.touch()
    if touch <= 0:
        raise MakerfirstError(f"{fit.product_id}: the touch holds nothing in the calibration window")
    spread = statistics.median(fit.spreads_bps)
    side_exposure = [(dt, b) for dt, b, _, _ in fit.exposure] + [(dt, a) for dt, _, a, _ in fit.exposure]
    spread_exposure = [(dt, s) for dt, _, _, s in fit.exposure if s is not None] * 2  # per side
    others = [p for p in pool if p.product_id != fit.product_id]
    takers = fit.taker_sizes_touch()
    if len(takers) >= MIN_TAKERS:
        taker_q = knots(takers)
    else:
        pooled = takers + [s for p in others for s in p.taker_sizes_touch()]
        if len(pooled) >= MIN_TAKERS:
            taker_q = knots(pooled)
            notes.append(
                f"{len(takers)} taker orders: sizes pooled with {len(others)} other products"
                f" of the capture ({len(pooled)} orders, in touch units)"
            )
        else:
            taker_q = DEFAULT_TAKER_SIZE_Q
            notes.append(f"{len(pooled)} taker orders in all: taker sizes default to a tenth of the touch")
    sequences = _side_times(fit)
    if len(fit.takers) < MIN_TAKERS and others:
        sequences += [seq for p in others for seq in _side_times(p)]
        notes.append("Hawkes kernel fitted on every product of the capture (too few takers alone)")
    branching, decay, gain = fit_hawkes(sequences)
    notes.append(f"Hawkes branching {branching}, decay {decay}/s (log-likelihood {gain:+.1f} vs Poisson)")
    improve_q = knots([x / spread for x in fit.improve_spreads_bps]) or (0.5, 1.0)
    if not fit.improve_spreads_bps:
        notes.append("no improvement inside the spread seen: one leaves 0.5–1 median spreads")
    gaps = [g for g in fit.gaps_bps if g > 0]
    levels = max(2, min(LEVELS, round(statistics.median(fit.levels_per_side))))
    length = fit.length
    buys = sum(1 for _, s, _ in fit.takers if s == BUY)
    jump_rate, jump_sizes = _mid_jumps(fit)
    params = MarketParams(
        name=name or f"calibrated:{fit.product_id}",
        source=f"fitted on {fit.product_id}, {length:.1f} s of its capture",
        touch_quote=round(touch, 6),
        median_spread_bps=round(spread, 4),
        add_per_sec=_bucket_rates(fit.adds, side_exposure, QUEUE_EDGES, touch),
        cancel_per_sec=_bucket_rates(fit.cancels, side_exposure, QUEUE_EDGES, touch),
        cancel_spread_factor=_spread_factors(
            fit.cancel_spreads, [(dt, sp) for dt, _, _, sp in fit.exposure], spread
        ),
        cancel_frac_q=knots(fit.cancel_fracs) or (1.0,),
        add_size_q=knots([s / touch for s in fit.add_sizes_quote]) or (1.0,),
        improve_per_sec=_bucket_rates(fit.improves, spread_exposure, SPREAD_EDGES, spread),
        improve_spread_q=improve_q,
        gap_bps_q=knots(gaps) or (round(spread / 2, 4),),
        touch_gap_bps_q=knots([g for g in fit.touch_gaps_bps if g > 0])
        or knots(gaps)
        or (round(spread / 2, 4),),
        deep_size_q=knots([d / touch for d in fit.deep_quote]) or (1.0,),
        deep_churn_per_sec=round(fit.churn / (2 * length), 6),
        remove_behind_per_sec=tuple(round(r / (2 * length), 6) for r in fit.removals),
        levels=levels,
        fair_jumps_per_sec=jump_rate,
        fair_jump_bps_q=jump_sizes,
        taker_buy_per_sec=round(buys / length, 6),
        taker_sell_per_sec=round((len(fit.takers) - buys) / length, 6),
        hawkes_branching=branching,
        hawkes_decay_per_sec=decay,
        taker_size_q=taker_q,
    )
    return params, tuple(notes)


def calibrate(
    tape: ProductTape,
    window: Window,
    *,
    sample_sec: float | None = None,
    taker_gap_sec: float = 0.002,
    pool: Sequence[TapeFit] = (),
) -> Calibration:
    """Fit ``MarketParams`` for ``tape``'s product on ``window`` (events before it only build the book)."""
    fit = fit_statistics(tape, window, sample_sec=sample_sec, taker_gap_sec=taker_gap_sec)
    params, notes = params_from(fit, pool)
    start_price = Decimal(repr(fit.mids[-1])) * tape.scale.tick
    return Calibration(
        tape.product_id, window, params, start_price, len(fit.mids), fit.trades, len(fit.takers), notes
    )
