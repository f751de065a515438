"""A synthetic market that drives the simulator: seeded, reproducible, fitted to real L2 captures.

The model (every number in :class:`MarketParams` is fitted by ``replay/calibrate.py``):

* **Queue-reactive touch** (after Huang, Lehalle and Rosenbaum, "Simulating and analyzing order
  book data: the queue-reactive model", 2015): at the best bid and the best ask, limit orders
  join and cancel at rates that depend on the size of the queue there (in units of the median
  touch size, five buckets). A queue that empties moves the price: the next level becomes the touch.
* **Competing makers improve inside the spread** at a rate that depends on how wide the spread
  is (in units of its median), landing at a fitted share of the spread from their own side.
* **Depth behind the touch** is a fitted profile: level gaps (bps) and sizes (touch units) are
  drawn from the capture's own distributions; levels behind the touch are resized at a fitted rate.
* **Takers** arrive per side as self-exciting (Hawkes) processes with an exponential kernel
  (branching ratio ``hawkes_branching``, decay ``hawkes_decay_per_sec``) whose mean rates are the
  fitted ones; sizes are drawn from the capture's taker-order sizes; each one sweeps the book.

**Only takers trade.** Every maker order is post-only: a quote that would reach the opposite
touch is placed one tick behind it instead. A maker that wants our price is a taker and comes
from the fitted taker rates. So a resting order of ours fills only when a taker order reaches
its price after the queue ahead of it, and a side with no taker rate (``dead``) never trades.

Random numbers shape the other participants only: everything reaching the book is integer
ticks and lots, and our own orders are priced by the engine in ``Decimal``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.adapters.sim.driver import NEVER, MarketOrder, PlaceLimit, apply_action
from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product

# Touch queue size in units of the median touch size: buckets [0, .5), [.5, 1), [1, 2), [2, 4), [4, ∞).
QUEUE_EDGES = (0.5, 1.0, 2.0, 4.0)
# Spread in units of its median: buckets [0, .75), [.75, 1.25), [1.25, 2), [2, ∞).
SPREAD_EDGES = (0.75, 1.25, 2.0)
MAKER_PREFIX = "maker-"
TAKER_PREFIX = "taker-"


def bucket(value: float, edges: tuple[float, ...]) -> int:
    return bisect.bisect_right(edges, value)


def draw_quantile(quantiles: tuple[float, ...], u: float) -> float:
    """Inverse-CDF draw from evenly spaced quantiles (min … max), log-linear between knots."""
    if not quantiles:
        return 0.0
    if len(quantiles) == 1:
        return quantiles[0]
    x = u * (len(quantiles) - 1)
    i = min(int(x), len(quantiles) - 2)
    lo, hi, frac = quantiles[i], quantiles[i + 1], x - i
    if lo > 0 and hi > 0:
        return float(math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))))
    return lo + frac * (hi - lo)


@dataclass(frozen=True, slots=True)
class MarketParams:
    """A fitted market. Rates are per second and per side; sizes are in units of ``touch_quote``
    (the median resting notional at the best bid/ask, in the product's quote currency); ``*_q``
    fields are evenly spaced quantiles (min … max) of a fitted distribution."""

    name: str
    source: str  # where the numbers come from
    touch_quote: float
    median_spread_bps: float
    add_per_sec: tuple[float, ...]  # orders joining the touch, by queue bucket (QUEUE_EDGES)
    cancel_per_sec: tuple[float, ...]  # cancellations at the touch, by queue bucket
    cancel_spread_factor: tuple[float, ...]  # × cancel_per_sec by spread state (one tick, then SPREAD_EDGES)
    cancel_frac_q: tuple[float, ...]  # share of the makers' touch queue one cancellation removes
    add_size_q: tuple[float, ...]
    improve_per_sec: tuple[float, ...]  # new best inside the spread, by spread bucket (SPREAD_EDGES)
    improve_spread_q: tuple[float, ...]  # the spread an improvement leaves, in median spreads
    gap_bps_q: tuple[float, ...]  # distance between consecutive levels behind the touch
    touch_gap_bps_q: tuple[float, ...]  # distance between the touch and the level behind it
    deep_size_q: tuple[float, ...]  # size of a level behind the touch
    deep_churn_per_sec: float  # resizes of a level behind the touch
    remove_behind_per_sec: tuple[float, ...]  # removals of the level 1, 2, … behind the touch
    levels: int  # levels kept per side
    fair_jumps_per_sec: float  # moves of the fair price (a compound Poisson process) …
    fair_jump_bps_q: tuple[float, ...]  # … of these signed sizes (log change, bps)
    taker_buy_per_sec: float  # mean taker-order rates (the Hawkes processes' stationary rates)
    taker_sell_per_sec: float
    hawkes_branching: float  # share of takers triggered by earlier ones, in [0, 1)
    hawkes_decay_per_sec: float
    taker_size_q: tuple[float, ...]

    def without_buyers(self, name: str, source: str) -> MarketParams:
        """The same book with no taker buys at all: a resting sell can never fill."""
        return replace(self, name=name, source=source, taker_buy_per_sec=0.0)

    def taker_mean_touch(self) -> float:
        """Mean taker-order size in touch units (the quantile knots' trapezoid mean)."""
        q = self.taker_size_q
        if len(q) < 2:
            return q[0] if q else 0.0
        return sum((a + b) / 2 for a, b in itertools.pairwise(q)) / (len(q) - 1)


@dataclass(slots=True)
class _Hawkes:
    """One side's taker intensity: ``base + excess · exp(-decay · (t - since))``."""

    base: float
    jump: float
    decay: float
    excess: float = 0.0
    since: float = 0.0

    def intensity(self, t: float) -> float:
        if self.excess == 0.0:
            return self.base
        return self.base + self.excess * math.exp(-self.decay * (t - self.since))

    def excite(self, t: float) -> None:
        self.excess = self.intensity(t) - self.base + self.jump
        self.since = t


_KINDS = ("add", "cancel", "improve", "churn")


class SyntheticMarket:
    """A :class:`~makerfirst.adapters.sim.driver.MarketDriver` for one product."""

    def __init__(
        self, product: Product, params: MarketParams, start_price: Decimal, start_time: float, seed: int
    ) -> None:
        self._p = params
        self._rng = random.Random(f"{seed}:{product.product_id}:{params.name}")
        self._start_mid = max(2, int(start_price / product.price_increment))
        # The fair price (ticks, a jump process): makers quote against it, so the book stays one book.
        self._fair = float(self._start_mid)
        # Quote notional of one lot at one tick: turns quote amounts into lots at a price in ticks.
        self._quote_per_tick_lot = float(product.price_increment * product.base_increment)
        self._mine: set[str] = set()  # our makers' resting order ids (some may have been filled)
        self._prune_at = 256
        self._ids = 0
        n = min(max(params.hawkes_branching, 0.0), 0.95)
        decay = max(params.hawkes_decay_per_sec, 1e-6)
        self._takers = {
            Side.BUY: _Hawkes(params.taker_buy_per_sec * (1 - n), n * decay, decay),
            Side.SELL: _Hawkes(params.taker_sell_per_sec * (1 - n), n * decay, decay),
        }
        self._remove_total = sum(params.remove_behind_per_sec)
        touch_gaps = params.touch_gap_bps_q or (params.median_spread_bps,)
        self._touch_gap_limit = touch_gaps[-2] if len(touch_gaps) > 1 else touch_gaps[-1]
        self._gap_limit = params.gap_bps_q[-1] if params.gap_bps_q else params.median_spread_bps
        self._laid_out = False
        self._next = start_time  # the first step lays out the book
        self._plan: tuple[float, list[tuple[str, Side, float]]] = (0.0, [])

    @property
    def params(self) -> MarketParams:
        return self._p

    def volume_24h_quote(self) -> Decimal:
        """Expected taker volume over 24 h, in quote currency: both sides' mean taker rates × the
        mean taker size × 86,400 s."""
        p = self._p
        daily = (p.taker_buy_per_sec + p.taker_sell_per_sec) * p.taker_mean_touch() * p.touch_quote * 86_400
        return Decimal(int(daily))

    def next_time(self) -> float:
        return self._next

    def step(self, engine: MatchingEngine) -> list[Match]:
        now = self._next
        matches: list[Match] = []
        if not self._laid_out:
            self._laid_out = True
            self._lay_out(engine)
        else:
            matches = self._act(engine, now)
        self._keep_depth(engine)
        self._schedule(engine, now)
        return matches

    # -- scheduling (competing exponential clocks; takers by thinning) ---------------------------
    def _schedule(self, engine: MatchingEngine, now: float) -> None:
        p = self._p
        components: list[tuple[str, Side, float]] = []
        spread_bucket = self._spread_bucket(engine)
        spread_factor = p.cancel_spread_factor[0 if spread_bucket is None else 1 + spread_bucket]
        for side in (Side.BUY, Side.SELL):
            q = bucket(self._touch_units(engine, side), QUEUE_EDGES)
            components.append(("add", side, p.add_per_sec[q]))
            components.append(("cancel", side, p.cancel_per_sec[q] * spread_factor))
            if spread_bucket is not None:
                components.append(("improve", side, p.improve_per_sec[spread_bucket]))
            components.append(("churn", side, p.deep_churn_per_sec))
            components.append(("remove", side, self._remove_total))
            # Upper bound of a decaying intensity until the next event: its value now.
            components.append(("taker", side, self._takers[side].intensity(now)))
        components.append(("fair", Side.BUY, p.fair_jumps_per_sec))
        total = sum(rate for _, _, rate in components)
        if total <= 0:
            self._next = NEVER
            return
        self._next = now + self._rng.expovariate(total)
        self._plan = (total, components)

    def _act(self, engine: MatchingEngine, now: float) -> list[Match]:
        total, components = self._plan
        pick = self._rng.random() * total
        kind, side, rate = components[-1]
        for component in components:
            if pick < component[2]:
                kind, side, rate = component
                break
            pick -= component[2]
        if kind == "taker":
            hawkes = self._takers[side]
            if self._rng.random() * rate > hawkes.intensity(now):
                return []  # thinned: the intensity decayed since the bound was taken
            hawkes.excite(now)
            return self._take(engine, side)
        if kind == "add":
            self._join_touch(engine, side)
        elif kind == "cancel":
            self._cancel_at_touch(engine, side)
        elif kind == "improve":
            self._improve(engine, side)
        elif kind == "fair":
            self._jump_fair(engine)
        elif kind == "churn":
            self._churn(engine, side)
        else:
            self._remove_behind(engine, side)
        return []

    def _jump_fair(self, engine: MatchingEngine) -> None:
        """The fair price jumps; makers pull the quotes it has passed (a post-only quote beyond
        the fair price would only be picked off), and the book re-forms around it."""
        self._fair *= math.exp(self._draw(self._p.fair_jump_bps_q) / 10_000)
        for side in (Side.BUY, Side.SELL):
            for price, _ in engine.levels(side, self._p.levels):
                stale = price >= self._fair if side is Side.BUY else price <= self._fair
                if not stale:
                    break
                for order_id in self._maker_orders_at(engine, side, price):
                    engine.cancel(order_id)
                    self._mine.discard(order_id)

    # -- the participants ------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def _lots(self, touch_units: float, price: int) -> int:
        return max(1, round(touch_units * self._p.touch_quote / (max(price, 1) * self._quote_per_tick_lot)))

    def _draw(self, quantiles: tuple[float, ...]) -> float:
        return draw_quantile(quantiles, self._rng.random())

    def _post(self, engine: MatchingEngine, side: Side, price: int, lots: int) -> None:
        """A maker's post-only quote: one that would reach the opposite touch goes one tick behind it."""
        if engine.would_cross(side, price):
            opposite = engine.best_ask() if side is Side.BUY else engine.best_bid()
            assert opposite is not None
            price = opposite - 1 if side is Side.BUY else opposite + 1
        if price <= 0 or lots <= 0:
            return
        order_id = self._new_id(MAKER_PREFIX)
        matches = apply_action(engine, PlaceLimit(order_id, side, price, lots))
        assert not matches, "a post-only maker quote never trades"
        self._mine.add(order_id)

    def _maker_orders_at(self, engine: MatchingEngine, side: Side, price: int) -> list[str]:
        if len(self._mine) > self._prune_at:  # forget orders that takers have filled
            self._mine = {oid for oid in self._mine if engine.resting(oid) is not None}
            self._prune_at = 2 * len(self._mine) + 256
        return [o.order_id for o in engine.orders_at(side, price) if o.order_id in self._mine]

    def _best(self, engine: MatchingEngine, side: Side) -> int | None:
        return engine.best_bid() if side is Side.BUY else engine.best_ask()

    def _touch_units(self, engine: MatchingEngine, side: Side) -> float:
        best = self._best(engine, side)
        if best is None:
            return 0.0
        lots = sum(o.remaining for o in engine.orders_at(side, best))
        return lots * best * self._quote_per_tick_lot / self._p.touch_quote

    def _spread_bucket(self, engine: MatchingEngine) -> int | None:
        """The spread's bucket, or None when no quote fits inside it (one tick, or a side empty)."""
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is None or ask is None or ask - bid <= 1:
            return None
        spread_bps = (ask - bid) / ((ask + bid) / 2) * 10_000
        return bucket(spread_bps / max(self._p.median_spread_bps, 1e-9), SPREAD_EDGES)

    def _mid(self, engine: MatchingEngine) -> int:
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        return bid if bid is not None else ask if ask is not None else self._start_mid

    def _gap_ticks(self, price: int) -> int:
        return max(1, round(price * self._draw(self._p.gap_bps_q) / 10_000))

    def _lay_out(self, engine: MatchingEngine) -> None:
        """The book starts at its medians: the median spread, the median touch size each side
        (``touch_quote``, one unit by definition); the levels behind come from ``_keep_depth``."""
        half = max(1, round(self._fair * self._p.median_spread_bps / 20_000))
        for side, touch in ((Side.BUY, self._start_mid - half), (Side.SELL, self._start_mid + half)):
            self._post(engine, side, touch, self._lots(1.0, touch))

    def _join_touch(self, engine: MatchingEngine, side: Side) -> None:
        best = self._best(engine, side)
        if best is None:
            return  # _keep_depth re-opens an empty side
        self._post(engine, side, best, self._lots(self._draw(self._p.add_size_q), best))

    def _cancel_at_touch(self, engine: MatchingEngine, side: Side) -> None:
        """Makers withdraw a fitted share of their queue at the touch, whole orders at random
        (1.0 empties the level: the next one becomes the touch)."""
        best = self._best(engine, side)
        if best is None:
            return
        orders = self._maker_orders_at(engine, side, best)
        self._rng.shuffle(orders)
        queued = sum(r.remaining for r in engine.orders_at(side, best) if r.order_id in self._mine)
        goal = self._draw(self._p.cancel_frac_q) * queued
        removed = 0
        for order_id in orders:
            if removed >= goal and removed > 0:
                break
            removed += engine.cancel(order_id) or 0
            self._mine.discard(order_id)

    def _improve(self, engine: MatchingEngine, side: Side) -> None:
        """A maker quotes around the fair price, leaving a fitted spread: only if that is better than
        the touch (a spread already narrower is left alone), never at the other side's price."""
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is None or ask is None or ask - bid <= 1:
            return
        median_ticks = self._fair * self._p.median_spread_bps / 10_000
        half = self._draw(self._p.improve_spread_q) * median_ticks / 2
        if side is Side.BUY:
            price = min(math.floor(self._fair - half), ask - 1)
            if price <= bid:
                return
        else:
            price = max(math.ceil(self._fair + half), bid + 1)
            if price >= ask:
                return
        self._post(engine, side, price, self._lots(self._draw(self._p.add_size_q), price))

    def _churn(self, engine: MatchingEngine, side: Side) -> None:
        levels = engine.levels(side, self._p.levels)
        if len(levels) < 2:
            return
        price, _ = levels[self._rng.randrange(1, len(levels))]
        for order_id in self._maker_orders_at(engine, side, price):
            engine.cancel(order_id)
            self._mine.discard(order_id)
        self._post(engine, side, price, self._lots(self._draw(self._p.deep_size_q), price))

    def _remove_behind(self, engine: MatchingEngine, side: Side) -> None:
        """Makers leave a level behind the touch (often the old touch of one who just improved)."""
        weights = self._p.remove_behind_per_sec
        rank = self._rng.choices(range(1, len(weights) + 1), weights=weights)[0]
        levels = engine.levels(side, rank + 1)
        if len(levels) <= rank:
            return
        for order_id in self._maker_orders_at(engine, side, levels[rank][0]):
            engine.cancel(order_id)
            self._mine.discard(order_id)

    def _take(self, engine: MatchingEngine, side: Side) -> list[Match]:
        mid = self._mid(engine)
        lots = self._lots(self._draw(self._p.taker_size_q), mid)
        return apply_action(engine, MarketOrder(self._new_id(TAKER_PREFIX), side, lots))

    def _maker_prices(self, engine: MatchingEngine, side: Side) -> list[int]:
        """The makers' own levels, best first: the depth profile is theirs, so a level holding
        only an order of ours is no level of the profile (its gaps are not holes to fill)."""
        prices = engine.prices(side, self._p.levels + 2)
        return [price for price in prices if any(not o.ours for o in engine.orders_at(side, price))][
            : self._p.levels
        ]

    def _keep_depth(self, engine: MatchingEngine) -> None:
        """Keep ``levels`` levels a side, no gap wider than fitted: an empty side re-opens half a
        median spread from the fair price; a hole behind the touch (left by an improvement or a
        sweep) and missing levels at the back get fitted gaps and sizes."""
        p = self._p
        for side in (Side.BUY, Side.SELL):
            away = -1 if side is Side.BUY else 1
            prices = self._maker_prices(engine, side)
            if not prices:
                half = max(1, round(self._fair * p.median_spread_bps / 20_000))
                price = round(self._fair) + away * half
                self._post(engine, side, price, self._lots(self._draw(p.add_size_q), price))
                prices = self._maker_prices(engine, side)
                if not prices:
                    continue
            # Behind the touch a gap stays within the fitted 87.5 % knot (books are densest
            # there); deeper, within the widest fitted gap.
            limit_bps = self._touch_gap_limit
            for upper, lower in itertools.pairwise(prices):
                if abs(lower - upper) > max(1.0, upper * limit_bps / 10_000):
                    gaps = p.touch_gap_bps_q if limit_bps == self._touch_gap_limit else p.gap_bps_q
                    step = max(1, round(upper * min(self._draw(gaps), limit_bps) / 10_000))
                    price = upper + away * step
                    self._post(engine, side, price, self._lots(self._draw(p.deep_size_q), price))
                    break  # one repair a step: the book fills in over a few events, as it does
                limit_bps = self._gap_limit
            deepest = prices[-1]
            for _ in range(p.levels - len(prices)):
                price = deepest + away * self._gap_ticks(deepest)
                if price <= 0:
                    break
                self._post(engine, side, price, self._lots(self._draw(p.deep_size_q), price))
                deepest = price
