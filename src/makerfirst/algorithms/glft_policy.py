"""The GLFT sell policy: maker quotes priced by the optimal-liquidation solution (pure: no I/O).

Before each attempt, from the product's fill curve (``FillCurve``: A, k and σ measured in spreads,
``makerfirst calibrate``) and a fresh book:

1. ``q``: the lots left (one lot = the TWAP's slice, ``max_slice_usd``), ``τ``: the time to the
   deadline (the backtest's episode deadline; without one, the design note's own patience: the
   purge TTL ladder, ``maker_first_ttl_sec`` + (``max_consecutive_no_fill`` − 1) × ``maker_retry_ttl_sec``).
2. ``b``, the give-up cost per lot, prices the taker fallback: half the spread, the fee gap
   (taker − maker) and the walk of one lot into the bids, in spreads.
3. δ*(τ, q) from ``algorithms.glft``, with the curve's σ and its drift μ when the mid falls,
   on the grid of measured fill rates (``glft.quote_grid``, the default; the closed form for a
   curve without one, or with the key off; on a book under 8 ticks, the rates measured on books
   of its spread where the curve has them), off the fair touch (``glft.fair_price_sec``, 30 s:
   the time-weighted median mid and spread of the books the loop read, ``TouchHistory``), rounded
   up to the tick; as a cushion over the bid at least 1 tick (never crossing) and at most the
   fair ask (or the ask, when that is higher): over a dip shorter than half the window the quote
   stays where the fair ask is, above the dipped ask. ``fair_price_sec`` 0 quotes off the book
   of the moment, clamped to [1 tick, the spread].
4. When the model wants to cross (the ask at or below the fair bid) after the purge has been a
   maker for ``min_maker_sec`` (default: the design note's first attempt, ``maker_first_ttl_sec``),
   or when an order could no longer rest ``min_rest_sec`` and still leave ``taker_reserve_sec``
   before the deadline, patience has run out: the design note's end as it is
   (``twap.after_patience``): the one guarded IOC for a purge under the threshold, else its
   finish. Before ``min_maker_sec`` a crossing quote is the most aggressive maker price instead
   (bid + the loop's cushion): curves of thin products stand on few fills.

Each attempt rests ``requote_sec`` (25 s; re-solved then), and at most half the time left before
the deadline (so the solution's move to surer prices near the end is acted on). Off the fair touch
it rests untracked, the book read every ``tracking.check_sec`` for the touch history (tracking
would follow a dip down, or lift the cushion off a bid that came back); off the book it tracks
the top of the book (``glft.chase_undercuts`` false: upward only). The maker attempts are bounded
by ``max_slices`` like the design note's. Every order goes through the engine and its guards. A
product without a curve gets the design note's loop unchanged (or the pooled curve, when one is
given). Every knob is a policy key (``purge_execution.glft``, ``.tracking``). On ``synthetic:thin``
the fair touch is what brings the p95 under the design note's: the thin book's short dips are
what a quote re-priced from the book of the moment sold into.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from makerfirst.algorithms import twap
from makerfirst.algorithms.glft import FillCurve, GlftParams, grid_price, grid_quote, optimal_distance
from makerfirst.algorithms.sell_policies import PolicyView
from makerfirst.algorithms.tob import Tracking
from makerfirst.algorithms.touch_history import FairTouch
from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import ZERO
from makerfirst.policy import Policy

MAX_LOTS = 40  # the solver's inventory grid: more lots than this are quoted as this many


@dataclass(frozen=True, slots=True)
class GlftSettings:
    """``gamma``: risk aversion per spread (chosen, not estimated); ``fee_gap``: taker − maker fee
    (Coinbase's lowest tier); ``requote_sec``: how long one quote rests before it is re-solved;
    ``min_rest_sec``: a maker order that cannot rest this long (with ``taker_reserve_sec`` kept
    before the deadline for the cancel and the taker) is not placed: give up;
    ``min_maker_sec``: the model may not give up to the taker before the purge has been a maker
    this long (None: the design note's first attempt, ``maker_first_ttl_sec``). The defaults are
    the policy's (``purge_execution.glft`` and ``.tracking``)."""

    gamma: float = 1.5
    fee_gap: Decimal = Decimal("0.006")
    requote_sec: int = 25
    min_rest_sec: float = 3.0
    tracking: Tracking | None = field(default_factory=Tracking)
    min_maker_sec: float | None = None  # None: the policy's maker_first_ttl_sec
    taker_reserve_sec: float = 1.0
    quote_grid: bool = True
    fair_price_sec: float = 30.0

    @classmethod
    def from_policy(cls, policy: Policy) -> GlftSettings:
        purge = policy.portfolio_management.purge_execution
        keys = purge.glft
        return cls(
            gamma=float(keys.gamma),
            fee_gap=Decimal(keys.fee_gap_bps) / 10_000,
            requote_sec=keys.requote_sec,
            min_rest_sec=float(keys.min_rest_sec),
            tracking=replace(Tracking.from_policy(policy), chase_undercuts=keys.chase_undercuts),
            min_maker_sec=float(keys.min_maker_sec) if keys.min_maker_sec is not None else None,
            taker_reserve_sec=float(keys.taker_reserve_sec),
            quote_grid=keys.quote_grid,
            fair_price_sec=float(keys.fair_price_sec),
        )


class Glft:
    """Maker quotes at the GLFT distance for the lots and time left; the design note's taker at the end.

    ``settings`` None: read from the policy the loop runs with (so ``--set`` and sweeps reach
    them). A product without a curve of its own quotes from ``pooled`` when given (``on_pooled``
    is told, once per product), else it gets the design note's loop unchanged."""

    name = "glft"

    def __init__(
        self,
        curves: Mapping[str, FillCurve],
        settings: GlftSettings | None = None,
        *,
        pooled: FillCurve | None = None,
        on_pooled: Callable[[str], None] | None = None,
    ) -> None:
        self.curves = dict(curves)
        self.settings = settings
        self.pooled = pooled
        self._on_pooled = on_pooled
        self._told: set[str] = set()

    def curve_for(self, product_id: str) -> FillCurve | None:
        curve = self.curves.get(product_id)
        if curve is not None or self.pooled is None:
            return curve
        if product_id not in self._told:
            self._told.add(product_id)
            if self._on_pooled is not None:
                self._on_pooled(product_id)
        return self.pooled

    def decide(self, view: PolicyView) -> twap.Decision:
        done = view.settled()
        if done is not None:
            return done
        curve = self.curve_for(view.product.product_id)
        if curve is None:
            return twap.decide(view.state, view.product, view.book, view.rules)
        settings = self.settings or GlftSettings.from_policy(view.config)
        state, book, rules = view.state, view.book, view.rules
        value = state.remaining * book.mid
        if state.maker_attempts >= rules.max_slices:
            return twap.after_patience(state, value, rules)
        tau = self._time_left(view)
        fair = self._fair_touch(view, settings)
        reason, cushion = self.quote(view, curve, tau, settings, fair)
        if cushion < 1 and view.now - view.started_at < self._min_maker_sec(view, settings):
            # The model would cross already, but the design note's first attempt is the least
            # patience a maker gets: curves of thin products stand on few fills, and a maker at
            # the touch may still fill. Until then: the most aggressive maker price, re-solved.
            cushion = max(1, state.cushion_ticks)
        # The attempt ends early enough for the cancel and the taker to be answered before the deadline,
        # and rests at most half the time left (never under min_rest_sec): the solution assumes the
        # quote can change at any time, and near the deadline it moves to surer prices; re-solving at
        # halving intervals acts on that instead of resting a whole requote_sec at the last price.
        usable = tau - settings.taker_reserve_sec
        ttl = min(
            settings.requote_sec,
            math.floor(usable),
            max(math.ceil(settings.min_rest_sec), math.ceil(usable / 2)),
        )
        if cushion < 1 or ttl < settings.min_rest_sec:
            decision = twap.after_patience(state, value, rules)
            if isinstance(decision, twap.PlaceTakerFallback):
                return twap.PlaceTakerFallback(decision.size, decision.remaining_value_usd, reason=reason)
            return decision
        size = twap.slice_size(state.remaining, book.mid, view.product, rules.max_slice_usd)
        if fair is None:
            return twap.PlaceMakerSlice(
                size=size,
                cushion_ticks=min(cushion, view.spread_ticks),
                attempt_index=state.maker_attempts,
                ttl_sec=ttl,
                tracking=settings.tracking,
                reason=reason,
            )
        # Off the fair touch: over a dip the quote stays where the fair ask is, above the dipped
        # ask (never beyond the fair ask), and rests untracked: tracking would follow the dip
        # down, or, after it, lift the cushion off a bid that came back. The books read while it
        # rests keep the fair price current for the next re-solve.
        tick = view.product.price_increment
        fair_ask = int(view.product.price_ceil(fair.ask) / tick) - int(book.best_bid / tick)
        watch = settings.tracking.check_sec if settings.tracking is not None else 1.0
        return twap.PlaceMakerSlice(
            size=size,
            cushion_ticks=max(1, min(cushion, max(view.spread_ticks, fair_ask))),
            attempt_index=state.maker_attempts,
            ttl_sec=ttl,
            watch_sec=watch,
            reason=reason,
        )

    def quote(
        self,
        view: PolicyView,
        curve: FillCurve,
        tau: float,
        settings: GlftSettings | None = None,
        fair: FairTouch | None = None,
    ) -> tuple[twap.QuoteReason, int]:
        """The model's quote and the cushion over the bid it maps to (below 1: it wants to cross).
        ``fair``: quote off this touch instead of the book's; crossing is then judged against the
        fair bid (a bid that rose above the fair price leaves the quote at bid + 1, not a give-up)."""
        settings = settings or self.settings or GlftSettings.from_policy(view.config)
        book, product = view.book, view.product
        tick = product.price_increment
        spread = book.best_ask - book.best_bid
        reference_mid = fair.mid if fair is not None else book.mid
        if fair is not None:
            spread = fair.spread
        slice_usd = view.rules.max_slice_usd
        lots = max(1, min(MAX_LOTS, math.ceil(float(view.state.remaining * book.mid / slice_usd))))
        b = give_up_spreads(book, view.state.remaining / lots, settings.fee_gap)
        # A falling mid is a cost of waiting the quote must price; a rising one is not counted on:
        # betting that a rise measured on the calibration data goes on risks the taker's b (several
        # spreads) to win a fraction of one (on NU-GBP's fitted market it held the ask above the touch
        # until the deadline's taker).
        mu = min(0.0, curve.mu)
        bid, ask = int(book.best_bid / tick), int(book.best_ask / tick)
        if fair is not None:
            bid, ask = int(product.price_floor(fair.bid) / tick), int(product.price_ceil(fair.ask) / tick)
        grid = (
            grid_quote(curve, gamma=settings.gamma, b=b, q=lots, tau=tau, mu=mu, spread_ticks=ask - bid)
            if settings.quote_grid
            else None
        )
        if grid is not None:
            delta = grid.distance
            target_ticks = grid_price(bid, ask, grid.nominal)  # as measured
            cushion = 0 if grid.give_up else target_ticks - bid
            if fair is not None and cushion >= 1:
                cushion = max(1, target_ticks - int(book.best_bid / tick))
        else:
            params = GlftParams(curve.a_per_sec, curve.k, curve.sigma, settings.gamma, b, mu)
            delta = optimal_distance(params, lots, tau)
            target = product.price_ceil(reference_mid + Decimal(repr(delta)) * spread)
            reference_bid = product.price_floor(fair.bid) if fair is not None else book.best_bid
            cushion = int((target - reference_bid) / tick)
            if fair is not None and cushion >= 1:
                cushion = max(1, int((target - book.best_bid) / tick))
        reason = twap.QuoteReason(
            model=self.name,
            distance_spreads=delta,
            distance_ticks=delta * float(spread / tick),
            lots_left=lots,
            remaining=view.state.remaining,
            time_left_sec=tau,
            give_up_spreads=b,
        )
        return reason, cushion

    @staticmethod
    def _fair_touch(view: PolicyView, settings: GlftSettings) -> FairTouch | None:
        """The fair touch to quote off (``glft.fair_price_sec`` > 0 and a loop that keeps touches)."""
        if settings.fair_price_sec <= 0 or view.touches is None:
            return None
        return view.touches.fair(view.now, settings.fair_price_sec)

    @staticmethod
    def _min_maker_sec(view: PolicyView, settings: GlftSettings) -> float:
        if settings.min_maker_sec is not None:
            return settings.min_maker_sec
        return float(view.config.portfolio_management.purge_execution.maker_first_ttl_sec)

    @staticmethod
    def _time_left(view: PolicyView) -> float:
        if view.deadline is not None:
            return max(0.0, view.deadline - view.now)
        purge = view.config.portfolio_management.purge_execution
        patience = purge.maker_first_ttl_sec + (purge.max_consecutive_no_fill - 1) * purge.maker_retry_ttl_sec
        return max(0.0, view.started_at + patience - view.now)


def give_up_spreads(book: OrderBook, lot: Decimal, fee_gap: Decimal) -> float:
    """The cost of selling one ``lot`` by the taker now rather than at the mid as a maker, in
    spreads: half the spread, the fee gap on the price, and the walk of the lot into the bids
    (past the displayed bids: priced at the last one)."""
    spread = book.best_ask - book.best_bid
    taken, proceeds = book.sell_proceeds(lot)
    if taken < lot and book.bids:
        proceeds += (lot - taken) * book.bids[-1].price
    walk = book.best_bid - proceeds / lot if lot > ZERO else ZERO
    return float((spread / 2 + fee_gap * book.mid + walk) / spread)
