"""``makerfirst market check``: does the fitted synthetic market look like the capture it was fitted on?

Per product of a capture: the model is fitted on the capture's first half (``calibrate.py``,
pooling thin products with the others of the same capture); the real figures come from the
second half; the synthetic ones from the fitted market, started at the mid where the fit window
ended, run for the same length after a ``WARM_UP_SEC`` warm-up, over several seeds (pooled).
A horizon that does not fit in the second half is measured on the whole capture instead (and
says so: ``window`` is ``whole``); one longer than the capture has no real figure.

Both sides are measured by the same code on a tape (the synthetic market is recorded as one,
``synthetic_tape.py``), so they share one set of rules:

* spread p10/p50/p90 (bps) and median top-10 depth per side (quote currency), on a
  ``SAMPLE_SEC`` grid; intervals: block bootstrap over ``BLOCK_SEC`` blocks of the grid;
* trades and taker orders per second and side (a taker order is a run of same-side trades
  within 2 ms); intervals: Poisson score (trades come in bunches, so theirs is too narrow);
* the probability that a post-only sell resting at best bid + 1 tick, or at the best ask, fills
  within 5, 10 and 30 s under the conservative rule (``ReplayBook``: only a trade at or through
  its price, after the displayed queue ahead of it). Start points are spaced one horizon apart,
  so no two windows share a trade (close to independent); intervals: Wilson. "Fills" means any
  part of it fills.

A synthetic figure is ``within`` when it lies inside the real figure's 95 % interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from makerfirst.adapters.sim.market import MarketParams
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.orders import Side
from makerfirst.replay.calibrate import TapeFit, fit_statistics, params_from, taker_orders
from makerfirst.replay.driver import FillModel, ProductTape, ReplayBook, product_tape
from makerfirst.replay.episodes import Window, split_window
from makerfirst.replay.events import BUY, CLEAR, LEVEL, SELL, TRADE, EventStream
from makerfirst.replay.intervals import block_bootstrap, poisson_rate, quantile, wilson
from makerfirst.replay.synthetic_tape import record_tape

HORIZONS = (5.0, 10.0, 30.0)
PROBES = ("bid_plus_1", "ask")
SAMPLE_SEC = 0.1
BLOCK_SEC = 2.0
WARM_UP_SEC = 30.0
SYNTHETIC_SECONDS = 300.0  # synthetic market time per product, over all seeds (at least MIN_SEEDS)
MIN_SEEDS = 2
FIT_SHARE = 0.5
TOP_LEVELS = 10


@dataclass(slots=True)
class Measure:
    """What one tape shows over a window (several tapes can be pooled with ``add``)."""

    seconds: float = 0.0
    spreads_bps: list[float] = field(default_factory=list)
    depth_bid: list[float] = field(default_factory=list)
    depth_ask: list[float] = field(default_factory=list)
    trades: dict[int, int] = field(default_factory=lambda: {BUY: 0, SELL: 0})
    takers: dict[int, int] = field(default_factory=lambda: {BUY: 0, SELL: 0})
    fills: dict[tuple[str, float], tuple[int, int]] = field(default_factory=dict)

    def add(self, other: Measure) -> None:
        self.seconds += other.seconds
        self.spreads_bps += other.spreads_bps
        self.depth_bid += other.depth_bid
        self.depth_ask += other.depth_ask
        for side in (BUY, SELL):
            self.trades[side] += other.trades[side]
            self.takers[side] += other.takers[side]
        for key, (k, n) in other.fills.items():
            k0, n0 = self.fills.get(key, (0, 0))
            self.fills[key] = (k0 + k, n0 + n)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    real: float | None
    real_low: float | None
    real_high: float | None
    synthetic: float | None
    n: int  # the real figure's sample size (start points, events or grid samples)
    window: str  # "second_half" or "whole"
    interval: str

    @property
    def within(self) -> bool | None:
        if self.real_low is None or self.real_high is None or self.synthetic is None:
            return None
        slack = 1e-9 * max(1.0, abs(self.real_high))
        return self.real_low - slack <= self.synthetic <= self.real_high + slack

    @property
    def is_fill(self) -> bool:
        return self.name.startswith("fill_")

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "real": _round(self.real),
            "real_low": _round(self.real_low),
            "real_high": _round(self.real_high),
            "synthetic": _round(self.synthetic),
            "within": self.within,
            "n": self.n,
            "unit": self.unit,
            "window": self.window,
            "interval": self.interval,
        }


def _round(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(x, 6)


@dataclass(frozen=True, slots=True)
class ProductCheck:
    product_id: str
    quote_currency: str
    usd_per_quote: Decimal | None
    params: MarketParams
    fit_notes: tuple[str, ...]
    seeds: tuple[int, ...]
    metrics: tuple[Metric, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "product": self.product_id,
            "quote_currency": self.quote_currency,
            "usd_per_quote": None if self.usd_per_quote is None else str(self.usd_per_quote),
            "seeds": list(self.seeds),
            "fit_notes": list(self.fit_notes),
            "metrics": [m.as_json() for m in self.metrics],
        }


# -- measuring one tape ---------------------------------------------------------------------------
def measure(tape: ProductTape, window: Window, fill_windows: dict[float, Window | None]) -> Measure:
    """Spreads, depth and trade counts over ``window``; fill probes per horizon over its window."""
    out = Measure(seconds=window.length)
    _sample_book(tape, window, out)
    trades = [
        (t, tape.sides[i], 0.0)
        for i, t in enumerate(tape.times)
        if tape.kinds[i] == TRADE and window.start <= t < window.end
    ]
    for _, side, _ in trades:
        out.trades[side] += 1
    for _, side, _ in taker_orders(trades, 0.002):
        out.takers[side] += 1
    for horizon, fill_window in fill_windows.items():
        if fill_window is None:
            continue
        for probe in PROBES:
            out.fills[probe, horizon] = probe_fills(tape, fill_window, probe, horizon)
    return out


def _sample_book(tape: ProductTape, window: Window, out: Measure) -> None:
    qpt = float(tape.scale.tick * tape.scale.lot)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    next_sample = window.start

    def sample() -> None:
        if not bids or not asks:
            return
        top_bids = sorted(bids, reverse=True)[:TOP_LEVELS]
        top_asks = sorted(asks)[:TOP_LEVELS]
        bid, ask = top_bids[0], top_asks[0]
        out.spreads_bps.append((ask - bid) / ((ask + bid) / 2) * 10_000)
        out.depth_bid.append(sum(p * bids[p] for p in top_bids) * qpt)
        out.depth_ask.append(sum(p * asks[p] for p in top_asks) * qpt)

    for i, t in enumerate(tape.times):
        if t >= window.end:
            break
        while next_sample <= t and next_sample < window.end:
            sample()
            next_sample += SAMPLE_SEC
        kind = tape.kinds[i]
        if kind == CLEAR:
            bids.clear()
            asks.clear()
        elif kind == LEVEL:
            levels = bids if tape.sides[i] == BUY else asks
            if tape.sizes[i] > 0:
                levels[tape.prices[i]] = tape.sizes[i]
            else:
                levels.pop(tape.prices[i], None)
    while next_sample < window.end:
        sample()
        next_sample += SAMPLE_SEC


def probe_fills(tape: ProductTape, window: Window, probe: str, horizon: float) -> tuple[int, int]:
    """(fills, start points): a one-lot post-only sell placed every ``horizon`` seconds from
    ``window.start`` (at best bid + 1 tick, or at the best ask), filled within ``horizon`` under
    the conservative rule. A start with a one-sided book is skipped."""
    book = ReplayBook(FillModel.CONSERVATIVE)
    starts = [window.start + k * horizon for k in range(int(window.length / horizon + 1e-9))]
    fills = trials = 0
    order_id: str | None = None
    ends_at = math.inf
    index = 0

    def settle(t: float) -> None:
        nonlocal order_id, ends_at, index, trials
        while True:
            if order_id is not None and t >= ends_at:
                book.cancel(order_id)
                order_id, trials = None, trials + 1
            elif order_id is None and index < len(starts) and t >= starts[index]:
                start = starts[index]
                index += 1
                bid, ask = book.best_bid(), book.best_ask()
                if bid is None or ask is None:
                    continue
                price = bid + 1 if probe == "bid_plus_1" else ask
                order_id, ends_at = f"probe-{index}", start + horizon
                book.submit(order_id, Side.SELL, price, 1, ours=True, rest=True)
            else:
                return

    for i, t in enumerate(tape.times):
        settle(t)
        if index >= len(starts) and order_id is None:
            break
        matches = book.apply(tape.kinds[i], tape.sides[i], tape.prices[i], tape.sizes[i], tape.aux[i], now=t)
        if order_id is not None and any(m.maker_order_id == order_id for m in matches):
            book.cancel(order_id)
            order_id, fills, trials = None, fills + 1, trials + 1
    settle(window.end)
    return fills, trials


# -- the check ------------------------------------------------------------------------------------
def capture_span(tape: ProductTape) -> Window:
    """From the first event after the opening snapshot (a book exists) to the last event."""
    opening = tape.times[0]
    start = next((t for t in tape.times if t > opening), opening)
    return Window(start, tape.end)


def fill_windows(span: Window, evaluation: Window) -> dict[float, tuple[Window | None, str]]:
    """Per horizon: the second half if it holds one window, else the whole capture, else none."""
    out: dict[float, tuple[Window | None, str]] = {}
    for horizon in HORIZONS:
        if evaluation.length >= horizon:
            out[horizon] = (evaluation, "second_half")
        elif span.length >= horizon:
            out[horizon] = (span, "whole")
        else:
            out[horizon] = (None, "none")
    return out


def check_capture(
    stream: EventStream,
    *,
    quote_usd: dict[str, Decimal],
    quote_of: dict[str, str],
    seed: int = 1,
    seeds: int | None = None,
    products: Sequence[str] | None = None,
) -> list[ProductCheck]:
    """Fit on each product's first half, compare with its second half (see the module docstring)."""
    wanted = [p.product_id for p in stream.products if products is None or p.product_id in products]
    if not wanted:
        known = ", ".join(p.product_id for p in stream.products)
        raise MakerfirstError(f"none of the requested products is in the capture; it holds: {known}")
    if not any(len(product_tape(stream, pid)) >= 2 for pid in wanted):
        raise MakerfirstError("no requested product has any event after its snapshot")
    # Every product is fitted (the pool lends thin ones sizes and the Hawkes kernel), so a
    # product's figures do not change when --product leaves the others out.
    tapes = {p.product_id: product_tape(stream, p.product_id) for p in stream.products}
    spans: dict[str, Window] = {}
    fits: dict[str, TapeFit] = {}
    for pid, tape in tapes.items():
        span = capture_span(tape) if len(tape) >= 2 else Window(0.0, 0.0)
        if span.length < 2 * SAMPLE_SEC:
            continue  # nothing after its snapshot: nothing to fit or compare (listed as skipped)
        spans[pid] = span
        fit_window, _ = split_window(spans[pid], FIT_SHARE)
        fits[pid] = fit_statistics(tape, fit_window)
    pool = list(fits.values())
    checks: list[ProductCheck] = []
    for pid, fit in fits.items():
        if pid not in wanted:
            continue
        checks.append(
            _check_product(
                tapes[pid],
                span=spans[pid],
                fit=fit,
                pool=pool,
                quote_usd=quote_usd,
                quote=quote_of.get(pid, "?"),
                seed=seed,
                seeds=seeds,
            )
        )
    return checks


def _check_product(
    tape: ProductTape,
    *,
    span: Window,
    fit: TapeFit,
    pool: list[TapeFit],
    quote_usd: dict[str, Decimal],
    quote: str,
    seed: int,
    seeds: int | None,
) -> ProductCheck:
    params, notes = params_from(fit, pool)
    _, evaluation = split_window(span, FIT_SHARE)
    windows = fill_windows(span, evaluation)
    real = measure(tape, evaluation, {h: w for h, (w, _) in windows.items()})
    count = seeds if seeds is not None else max(MIN_SEEDS, math.ceil(SYNTHETIC_SECONDS / span.length))
    seed_list = tuple(seed + k for k in range(count))
    start_price = Decimal(repr(fit.mids[-1])) * tape.scale.tick
    synthetic = Measure()
    for s in seed_list:
        synthetic_tape = record_tape(
            tape.scale, params, start_price, seconds=WARM_UP_SEC + span.length, seed=s
        )
        synthetic_eval = Window(WARM_UP_SEC, WARM_UP_SEC + evaluation.length)
        synthetic_fill = {
            h: None if w is None else Window(WARM_UP_SEC, WARM_UP_SEC + w.length)
            for h, (w, _) in windows.items()
        }
        synthetic.add(measure(synthetic_tape, synthetic_eval, synthetic_fill))
    metrics = metrics_of(real, synthetic, {h: name for h, (_, name) in windows.items()})
    return ProductCheck(tape.product_id, quote, quote_usd.get(quote), params, notes, seed_list, metrics)


def metrics_of(real: Measure, synthetic: Measure, windows: dict[float, str]) -> tuple[Metric, ...]:
    block = max(1, round(BLOCK_SEC / SAMPLE_SEC))
    out: list[Metric] = []
    boot = f"block bootstrap ({BLOCK_SEC:g} s blocks)"
    for q in (0.1, 0.5, 0.9):

        def spread_quantile(values: Sequence[float], q: float = q) -> float:
            return quantile(values, q)

        out.append(
            _series_metric(
                f"spread_p{round(q * 100)}_bps",
                "bps",
                real.spreads_bps,
                synthetic.spreads_bps,
                statistic=spread_quantile,
                block=block,
                interval=boot,
            )
        )
    for name, r, s in (("depth10_bid", real.depth_bid, synthetic.depth_bid),
                       ("depth10_ask", real.depth_ask, synthetic.depth_ask)):  # fmt: skip
        out.append(
            _series_metric(name, "quote", r, s, statistic=statistics.median, block=block, interval=boot)
        )
    for kind, real_counts, synthetic_counts in (("trade", real.trades, synthetic.trades),
                                                ("taker", real.takers, synthetic.takers)):  # fmt: skip
        for side, label in ((BUY, "buy"), (SELL, "sell")):
            low, high = poisson_rate(real_counts[side], real.seconds)
            out.append(
                Metric(
                    f"{kind}_rate_{label}",
                    "per_sec",
                    real_counts[side] / real.seconds if real.seconds > 0 else None,
                    low,
                    high,
                    synthetic_counts[side] / synthetic.seconds if synthetic.seconds > 0 else None,
                    real_counts[side],
                    "second_half",
                    "poisson score",
                )
            )
    for probe in PROBES:
        for horizon in HORIZONS:
            name = f"fill_{horizon:g}s_{probe}"
            k, n = real.fills.get((probe, horizon), (0, 0))
            sk, sn = synthetic.fills.get((probe, horizon), (0, 0))
            if n == 0:
                out.append(Metric(name, "probability", None, None, None, sk / sn if sn else None, 0,
                                  windows[horizon], "none: data shorter than the horizon"))  # fmt: skip
                continue
            low, high = wilson(k, n)
            out.append(Metric(name, "probability", k / n, low, high, sk / sn if sn else None, n,
                              windows[horizon], "wilson, start points one horizon apart"))  # fmt: skip
    return tuple(out)


def _series_metric(
    name: str,
    unit: str,
    real: Sequence[float],
    synthetic: Sequence[float],
    *,
    statistic: Callable[[Sequence[float]], float],
    block: int,
    interval: str,
) -> Metric:
    if not real:
        return Metric(name, unit, None, None, None, statistic(synthetic) if synthetic else None, 0,
                      "second_half", interval)  # fmt: skip
    low, high = block_bootstrap(real, block, statistic)
    return Metric(
        name, unit, float(statistic(real)), low, high, float(statistic(synthetic)) if synthetic else None,
        len(real), "second_half", interval,
    )  # fmt: skip


def check_json(
    checks: Sequence[ProductCheck], data: str, *, products: Sequence[str] = ()
) -> dict[str, object]:
    """The ``--json`` shape. ``products``: every product asked for; those without a check are
    listed under ``skipped`` (no events after their snapshot)."""
    fills = [m for c in checks for m in c.metrics if m.is_fill and m.within is not None]
    checked = {c.product_id for c in checks}
    return {
        "data": data,
        "skipped": [p for p in products if p not in checked],
        "fit": "first half of each product's capture",
        "compare": "second half (a horizon longer than it: the whole capture, see each metric's window)",
        "synthetic": f"the fitted market after a {WARM_UP_SEC:g} s warm-up, pooled over the listed seeds",
        "products": [c.as_json() for c in checks],
        "summary": {
            "fill_figures": len(fills),
            "fill_within": sum(1 for m in fills if m.within),
            "all_figures": sum(1 for c in checks for m in c.metrics if m.within is not None),
            "all_within": sum(1 for c in checks for m in c.metrics if m.within),
        },
    }
