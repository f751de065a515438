"""The fill-intensity curve Λ(δ) = A·e^(−kδ) of a product's asks, and σ, from virtual orders on a tape.

``execution-theory.md`` §1.5, method 4. Every ``sample_sec`` inside the window, a *virtual* ask is
placed at several distances from the mid (in units of the spread at that moment, rounded up to the
tick and never at or below the bid) and followed until it would have filled under the one
conservative rule the backtests use: a buy that takes liquidity trades through its price, or at its
price after the displayed queue ahead of it (the size at that price when it was placed; cancels at
that price only shrink the queue to what is left, RiskAdverse). It is censored at ``horizon_sec``
or at the window's end. A real capture and a fitted market are read the same way: both are a
:class:`~makerfirst.replay.driver.ProductTape` (``synthetic_tape.record_tape`` for the latter).

The maximum-likelihood fit of a constant intensity per distance with exposure offsets is a Poisson
GLM with log link: ``ln λ(δ) = ln A − kδ``. Profiling ``A`` out leaves one equation in ``k``
(the exposure-weighted mean distance equals the fills' mean distance), solved by bisection; the
interval is from the observed information. Virtual orders placed a second apart overlap, so the
observations are not independent: the intervals are narrower than they should be (said in the notes).

Thin products have few fills: :func:`shrink` adds pseudo-observations from the pooled curve of all
products (``SHRINK_SEC`` of exposure per distance), so a product with no fills gets the pool's curve
and one with many keeps its own. σ is the standard deviation of one-second mid changes, in spreads
per √s; distances are in spreads so a curve transfers between products (``spread_ticks`` converts).

Virtual asks are also placed inside the spread (``INSIDE_DISTANCES``, clamped to bid + 1 tick); they
stay out of the exponential's fit (which is measured from the touch outward) and, with the others,
give the curve's measured grid (``FillCurve.grid``: fills and exposure per grid distance) that
``glft.quote_grid`` quotes from. Books narrower than ``NARROW_SPREAD_TICKS`` also keep a grid per
spread (``FillCurve.narrow_grids``): there one grid point is inside the spread on one book and at
the ask on another, and the pooled grid would blend the best ask's rate with the queue's.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from makerfirst.adapters.sim.market import MarketParams
from makerfirst.algorithms.glft import NARROW_SPREAD_TICKS, FillCurve, GridRate, grid_price
from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.calibrate import DisplayedBook
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.episodes import Window
from makerfirst.replay.events import ASK, BUY, CLEAR, LEVEL, TRADE, ProductScale
from makerfirst.replay.synthetic_tape import record_tape

DISTANCES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)  # spreads from the mid (0.5: the touch in a 1-tick book)
# Inside the spread, for the measured grid (``GridRate``) only, never the exponential's fit: from the
# mid down to the bid (clamped to bid + 1 tick, the cheapest ask a maker can post).
INSIDE_DISTANCES = (-0.5, -0.375, -0.25, -0.125, 0.0, 0.125, 0.25, 0.375)
SAMPLE_SEC = 1.0
HORIZON_SEC = 30.0
SHRINK_SEC = 60.0  # pseudo-exposure per distance from the pooled curve
K_RANGE = (0.01, 50.0)  # per spread: a curve flatter or steeper than this is not believed
Z95 = 1.959964
NO_FILL_K = 1.0  # per spread: assumed when nothing filled and nothing can be borrowed
# σ is read from mid changes over this many seconds (a quote's re-solve period), not one: over one
# second the mid mostly flickers with the spread and reverts, which would overstate the risk of waiting.
SIGMA_HORIZON_SEC = 10


@dataclass(frozen=True, slots=True)
class VirtualOrder:
    """One virtual ask: its distance (spreads from the mid), exposure (s) and whether it filled."""

    distance: float
    exposure: float
    filled: float  # 1 or 0; pseudo-observations carry fractional counts
    nominal: float | None = None  # the grid distance it was placed at (None: a pseudo-observation)
    spread_ticks: int = 0  # the spread when it was placed (0: a pseudo-observation)


@dataclass(slots=True)
class _Resting:
    placed: float
    distance: float
    ahead: int
    nominal: float
    inside: bool
    spread_ticks: int


@dataclass(slots=True)
class TapeSample:
    """What one tape shows: its virtual orders (``inside``: those inside the spread, kept apart from
    the exponential's fit), one-second mid changes (ticks) and spreads (ticks)."""

    product_id: str
    orders: list[VirtualOrder] = field(default_factory=list)
    mid_changes: list[float] = field(default_factory=list)
    spreads: list[int] = field(default_factory=list)
    inside: list[VirtualOrder] = field(default_factory=list)

    def __iadd__(self, other: TapeSample) -> TapeSample:
        self.orders += other.orders
        self.inside += other.inside
        self.mid_changes += other.mid_changes
        self.spreads += other.spreads
        return self


def sample_tape(
    tape: ProductTape,
    window: Window,
    *,
    distances: Sequence[float] = DISTANCES,
    sample_sec: float = SAMPLE_SEC,
    horizon_sec: float = HORIZON_SEC,
    inside: Sequence[float] = INSIDE_DISTANCES,
) -> TapeSample:
    """Replay ``tape`` up to ``window.end`` (rows before the window only build the book) and follow
    virtual asks placed every ``sample_sec`` inside it (at ``distances``, and at ``inside`` for the grid)."""
    asks = _VirtualAsks(TapeSample(tape.product_id), distances, horizon_sec, inside)
    next_sample = window.start
    for i, t in enumerate(tape.times):
        if t >= window.end:
            break
        while next_sample <= t and next_sample < window.end:
            asks.sample(next_sample)
            next_sample += sample_sec
        kind, side, price, size = tape.kinds[i], tape.sides[i], tape.prices[i], tape.sizes[i]
        if kind == CLEAR:
            asks.book.clear()
        elif kind == LEVEL:
            asks.level(side, price, size)
        elif kind == TRADE and side == BUY and t >= window.start:
            asks.buy(t, price, size)
    while next_sample < window.end:  # a quiet tail: the book stood still
        asks.sample(next_sample)
        next_sample += sample_sec
    return asks.finish(window.end)


class _VirtualAsks:
    """The displayed book and the virtual asks resting in it, by price (ticks)."""

    def __init__(
        self, out: TapeSample, distances: Sequence[float], horizon_sec: float, inside: Sequence[float] = ()
    ) -> None:
        self.out = out
        self.distances = distances
        self.inside = inside
        self.horizon = horizon_sec
        self.book = DisplayedBook()
        self.resting: dict[int, list[_Resting]] = {}
        self.prices: list[int] = []  # sorted keys of ``resting``
        self.last_mid: float | None = None

    def _close(self, order: _Resting, until: float, filled: bool) -> None:
        kept = self.out.inside if order.inside else self.out.orders
        kept.append(
            VirtualOrder(
                order.distance,
                until - order.placed,
                1.0 if filled else 0.0,
                order.nominal,
                order.spread_ticks,
            )
        )

    def _keep(self, price: int, keep: list[_Resting]) -> None:
        if keep:
            self.resting[price] = keep
        else:
            del self.resting[price]
            del self.prices[bisect.bisect_left(self.prices, price)]

    def _expire(self, now: float) -> None:
        for price in list(self.prices):
            keep = []
            for order in self.resting[price]:
                if order.placed + self.horizon <= now:
                    self._close(order, order.placed + self.horizon, False)
                else:
                    keep.append(order)
            self._keep(price, keep)

    def sample(self, now: float) -> None:
        self._expire(now)
        bid, ask = self.book.bid, self.book.ask
        if bid is None or ask is None or ask <= bid:
            return
        spread = ask - bid
        mid = (bid + ask) / 2
        self.out.spreads.append(spread)
        if self.last_mid is not None:
            self.out.mid_changes.append(mid - self.last_mid)
        self.last_mid = mid
        for inside, grid in ((False, self.distances), (True, self.inside)):
            for c in grid:
                price = grid_price(bid, ask, c)
                if price not in self.resting:
                    bisect.insort(self.prices, price)
                    self.resting[price] = []
                ahead = self.book.asks.get(price, 0)
                self.resting[price].append(_Resting(now, (price - mid) / spread, ahead, c, inside, spread))

    def level(self, side: int, price: int, lots: int) -> None:
        self.book.set(side, price, lots)
        if side == ASK:
            for order in self.resting.get(price, ()):
                order.ahead = min(order.ahead, lots)  # cancels come from behind us: only a cap

    def buy(self, now: float, price: int, lots: int) -> None:
        """A buy that took liquidity at ``price``: through every virtual ask below it, and into the
        queue at it."""
        self._expire(now)
        for level in self.prices[: bisect.bisect_right(self.prices, price)]:
            keep = []
            for order in self.resting[level]:
                if level < price:
                    self._close(order, now, True)
                    continue
                order.ahead -= lots
                if order.ahead < 0:
                    self._close(order, now, True)
                else:
                    keep.append(order)
            self._keep(level, keep)

    def finish(self, end: float) -> TapeSample:
        for price in self.prices:
            for order in self.resting[price]:
                self._close(order, min(end, order.placed + self.horizon), False)
        return self.out


def narrow_grids_of(orders: Sequence[VirtualOrder]) -> tuple[tuple[int, tuple[GridRate, ...]], ...]:
    """The grid measured apart for each spread narrower than ``NARROW_SPREAD_TICKS`` (ticks): on
    such a book the grid's points share ticks, and one grid point is inside the spread on a wide
    book and at the ask on a narrow one, so a grid pooled over spreads blends the two rates."""
    by_spread: dict[int, list[VirtualOrder]] = {}
    for o in orders:
        if 0 < o.spread_ticks < NARROW_SPREAD_TICKS:
            by_spread.setdefault(o.spread_ticks, []).append(o)
    return tuple((ticks, grid_rates_of(group)) for ticks, group in sorted(by_spread.items()))


def grid_rates_of(orders: Sequence[VirtualOrder]) -> tuple[GridRate, ...]:
    """The fills and exposure of the virtual asks at each grid distance they were placed at."""
    by_nominal: dict[float, list[VirtualOrder]] = {}
    for o in orders:
        if o.nominal is not None:
            by_nominal.setdefault(o.nominal, []).append(o)
    out = []
    for nominal in sorted(by_nominal):
        group = by_nominal[nominal]
        exposure = sum(o.exposure for o in group)
        if exposure <= 0:
            continue
        mean_distance = sum(o.distance * o.exposure for o in group) / exposure
        out.append(GridRate(nominal, mean_distance, sum(o.filled for o in group), exposure))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Fit:
    a: float
    k: float
    a_interval: tuple[float, float]
    k_interval: tuple[float, float]
    k_identified: bool = True


def fit_intensity(orders: Sequence[VirtualOrder]) -> _Fit | None:
    """The censored Poisson MLE of (A, k) with 95 % intervals; None without a fill or exposure."""
    if not orders:
        return None
    d = np.array([o.distance for o in orders])
    t = np.array([o.exposure for o in orders])
    n = np.array([o.filled for o in orders])
    fills, exposure = float(n.sum()), float(t.sum())
    if fills <= 0 or exposure <= 0:
        return None
    fills_mean = float((n * d).sum()) / fills

    def exposure_mean(k: float) -> float:  # decreasing in k
        w = t * np.exp(-k * (d - d.min()))
        return float((w * d).sum() / w.sum())

    low, high = K_RANGE
    if exposure_mean(low) <= fills_mean or exposure_mean(high) >= fills_mean:
        # The likelihood is maximal on a bound: fills no closer to the mid than the exposure (flat),
        # or all at the nearest distance (a cliff). The data do not identify k; a bound would be
        # believed as a fact (a cliff at the touch quotes beyond it), so k is the one assumed
        # without fills, and A its MLE given k.
        e = np.exp(-NO_FILL_K * d)
        a = fills / float((t * e).sum())
        spread = math.exp(Z95 / math.sqrt(fills))
        return _Fit(a, NO_FILL_K, (a / spread, a * spread), (0.0, math.inf), k_identified=False)
    for _ in range(80):
        k = math.sqrt(low * high)
        if exposure_mean(k) > fills_mean:
            low = k
        else:
            high = k
    k = math.sqrt(low * high)
    e = np.exp(-k * d)
    s0, s1, s2 = float((t * e).sum()), float((t * e * d).sum()), float((t * e * d * d).sum())
    a = fills / s0
    # Observed information of (ln A, k): [[A s0, −A s1], [−A s1, A s2]].
    info = np.array([[a * s0, -a * s1], [-a * s1, a * s2]])
    det = float(np.linalg.det(info))
    if det <= 0:
        return _Fit(a, k, (0.0, math.inf), (0.0, math.inf))
    cov = np.linalg.inv(info)
    se_log_a, se_k = math.sqrt(max(0.0, cov[0, 0])), math.sqrt(max(0.0, cov[1, 1]))
    return _Fit(
        a,
        k,
        # A near-singular information (fills at one distance only) gives a huge se: an unbounded interval.
        (
            a * math.exp(-min(Z95 * se_log_a, 700.0)),
            a * math.exp(Z95 * se_log_a) if Z95 * se_log_a < 700 else math.inf,
        ),
        (max(0.0, k - Z95 * se_k), k + Z95 * se_k),
    )


def _no_fill_bound(orders: Sequence[VirtualOrder]) -> _Fit:
    """Zero fills: the rate's one-sided 95 % upper bound (3 events over the exposure) at ``NO_FILL_K``."""
    exposure = sum(o.exposure * math.exp(-NO_FILL_K * o.distance) for o in orders)
    if exposure <= 0:
        raise MakerfirstError("no virtual ask could be placed: the book never had both sides")
    a = 3.0 / exposure
    return _Fit(a, NO_FILL_K, (0.0, a), (0.0, math.inf))


def pseudo_orders(
    curve: _Fit, distances: Sequence[float] = DISTANCES, seconds: float = SHRINK_SEC
) -> list[VirtualOrder]:
    """The pooled curve as fractional pseudo-observations: ``seconds`` of exposure per distance."""
    return [VirtualOrder(c, seconds, curve.a * math.exp(-curve.k * c) * seconds) for c in distances]


def fit_curve(sample: TapeSample, pool: Sequence[TapeSample] = ()) -> FillCurve:
    """``sample``'s curve, shrunk toward the pool of ``pool`` (all products, this one included)."""
    notes: list[str] = [
        "intervals from the observed information; overlapping virtual orders make them narrow"
    ]
    pooled = fit_intensity([o for s in pool for o in s.orders]) if pool else None
    orders = list(sample.orders)
    fills = int(sum(o.filled for o in orders))
    if pooled is not None:
        orders += pseudo_orders(pooled)
        notes.append(
            f"shrunk toward the pooled curve of {len(pool)} tapes with {SHRINK_SEC:.0f} s per distance"
        )
    fitted = fit_intensity(orders)
    if fitted is None:
        fitted = _no_fill_bound(orders)
        notes.append(
            f"no virtual ask filled and no pool: A is its 95 % upper bound (3 fills over the exposure)"
            f" at an assumed k = {NO_FILL_K:g} per spread"
        )
    if not fitted.k_identified:
        notes.append(
            f"the fills do not identify k (its likelihood peaks on the bound of {K_RANGE}):"
            f" k = {NO_FILL_K:g} per spread assumed, A fitted given it"
        )
    if fills == 0:
        notes.append("no virtual ask filled: its curve is the pool's pseudo-fills over its own exposure")
    spread = float(statistics.median(sample.spreads)) if sample.spreads else 1.0
    sigma_ticks, mu_ticks = mid_sigma_and_drift(sample.mid_changes)
    return FillCurve(
        product_id=sample.product_id,
        a_per_sec=fitted.a,
        k=fitted.k,
        sigma=sigma_ticks / spread,
        spread_ticks=spread,
        orders=len(sample.orders),
        fills=fills,
        a_interval=fitted.a_interval,
        k_interval=fitted.k_interval,
        notes=tuple(notes),
        mu=mu_ticks / spread,
        grid=grid_rates_of([*sample.inside, *sample.orders]),
        narrow_grids=narrow_grids_of([*sample.inside, *sample.orders]),
    )


def mid_sigma_and_drift(changes: Sequence[float], horizon: int = SIGMA_HORIZON_SEC) -> tuple[float, float]:
    """σ (per √s) and the drift μ (per s) of the mid from its one-second ``changes``, in their unit.

    σ from the (overlapping) ``horizon``-second changes once two disjoint ones fit, else (a capture's
    short calibration part) from the one-second changes, the flicker included: the larger noise. μ is
    the mean change shrunk by its standard error s = σ/√n (positive-part James-Stein,
    μ̂·max(0, 1 − s²/μ̂²)): a drift within the noise of a short sample counts as none."""
    n = len(changes)
    if n < 2:
        return 0.0, 0.0
    if n >= 2 * horizon:
        path = [0.0, *itertools.accumulate(changes)]
        moves = [path[i + horizon] - path[i] for i in range(n - horizon + 1)]
        sigma = statistics.pstdev(moves) / math.sqrt(horizon * SAMPLE_SEC)
    else:
        sigma = statistics.pstdev(changes) / math.sqrt(SAMPLE_SEC)
    mean = statistics.fmean(changes) / SAMPLE_SEC
    if mean == 0.0:
        return sigma, 0.0
    error2 = sigma**2 / (n * SAMPLE_SEC)
    return sigma, mean * max(0.0, 1.0 - error2 / mean**2)


@dataclass(frozen=True, slots=True)
class ObservedRate:
    """The observed fill frequency at one distance: fills per second of exposure, with a 95 % interval."""

    distance: float
    orders: int
    fills: int
    exposure_sec: float
    rate: float
    interval: tuple[float, float]


def observed_rates(sample: TapeSample, distances: Sequence[float] = DISTANCES) -> list[ObservedRate]:
    """Fill frequency per distance bin (each virtual order in the bin of the nearest grid distance),
    with the square-root Poisson interval ((√n ∓ 1.96/2)² / exposure)."""
    out = []
    for j, c in enumerate(distances):
        lo = (distances[j - 1] + c) / 2 if j else -math.inf
        hi = (c + distances[j + 1]) / 2 if j + 1 < len(distances) else math.inf
        inside = [o for o in sample.orders if lo <= o.distance < hi]
        exposure = sum(o.exposure for o in inside)
        n = int(sum(o.filled for o in inside))
        if exposure <= 0:
            continue
        root = math.sqrt(n)
        low = max(0.0, root - Z95 / 2) ** 2 / exposure
        out.append(
            ObservedRate(c, len(inside), n, exposure, n / exposure, (low, (root + Z95 / 2) ** 2 / exposure))
        )
    return out


FITTED_SECONDS = 600.0  # how long a fitted market is run to measure its curve
FITTED_WARM_UP_SEC = 30.0
FITTED_SEED_OFFSET = 7_919  # the measuring run never shares a seed with an episode's market


def measure_market(
    scale: ProductScale,
    params: MarketParams,
    start_price: Decimal,
    *,
    seed: int,
    seconds: float = FITTED_SECONDS,
) -> TapeSample:
    """Virtual orders on a fitted (or preset) market, recorded as a tape and read like a capture."""
    tape = record_tape(scale, params, start_price, seconds=seconds, seed=seed + FITTED_SEED_OFFSET)
    return sample_tape(tape, Window(FITTED_WARM_UP_SEC, seconds))


def fit_curves(samples: Mapping[str, Sequence[TapeSample]]) -> dict[str, FillCurve]:
    """Each product's curve from all its samples (replayed and fitted), shrunk toward all products'."""
    merged: dict[str, TapeSample] = {}
    for product_id, parts in samples.items():
        whole = TapeSample(product_id)
        for part in parts:
            whole += part
        merged[product_id] = whole
    pool = list(merged.values())
    return {product_id: fit_curve(sample, pool) for product_id, sample in merged.items()}


POOLED = "pooled"  # the product id of the curve pooled across products


def fit_pooled(samples: Mapping[str, Sequence[TapeSample]], curves: Mapping[str, FillCurve]) -> FillCurve:
    """One curve from every product's virtual orders together (distances are in spreads, so they
    pool), for a product that has no curve of its own; σ and the spread are the products' medians."""
    orders = [o for parts in samples.values() for part in parts for o in part.orders]
    everything = [o for parts in samples.values() for part in parts for o in (*part.inside, *part.orders)]
    fitted = fit_intensity(orders) or _no_fill_bound(orders)
    return FillCurve(
        product_id=POOLED,
        a_per_sec=fitted.a,
        k=fitted.k,
        sigma=statistics.median(c.sigma for c in curves.values()) if curves else 0.0,
        spread_ticks=statistics.median(c.spread_ticks for c in curves.values()) if curves else 1.0,
        orders=len(orders),
        fills=int(sum(o.filled for o in orders)),
        a_interval=fitted.a_interval,
        k_interval=fitted.k_interval,
        notes=(f"pooled across {len(samples)} products; σ and the spread are their medians",),
        grid=grid_rates_of(everything),
        narrow_grids=narrow_grids_of(everything),
    )
