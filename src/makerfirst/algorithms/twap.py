"""The TWAP sell loop as a pure state machine, with the design note's aggressive purge fallback.

``decide`` reads the loop's state and a fresh book and says what to do next; ``after_maker`` and
``after_taker`` fold an attempt's result back in. The engine performs the actions. The rules:

* Maker slices (post-only) until ``max_consecutive_no_fill`` attempts in a row fill nothing
  (a normal sell: ``max_maker_attempts``), or a purge has used ``max_slices``.
* Then a purge whose remaining value is above 0 and at most ``taker_fallback_threshold_usd``
  gets one limit IOC for all of it, if ``allow_taker_fallback``; its fill ends the loop, and a
  taker that fills nothing ends the purge as failed: there is no second taker and no endless loop.
* A remaining value above the threshold ends the purge as "residual exceeds threshold".
* A remainder no order can sell (below the product's minimums) ends the loop as dust.
* A post-only reject widens the cushion one tick, up to ``max_cushion_ticks``; a reject at the
  widest cushion counts as an attempt without a fill, so rejects cannot loop forever either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from makerfirst.algorithms.tob import Tracking
from makerfirst.domain.book import OrderBook
from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import ZERO, ceil_to
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.policy import Policy


class Outcome(StrEnum):
    COMPLETE = "complete"
    DUST = "dust"  # what is left is below the product's minimums: reported, never retried
    RESIDUAL_EXCEEDS_THRESHOLD = "residual_exceeds_threshold"
    TAKER_FALLBACK_DISABLED = "taker_fallback_disabled"
    TAKER_FAILED = "taker_failed"  # the one IOC filled nothing
    TAKER_PARTIAL = "taker_partial"  # the one IOC filled part; the rest stays for a later run
    MAX_ATTEMPTS = "max_attempts"  # a normal sell ran out of maker attempts
    GUARD_BLOCKED = "guard_blocked"  # a normal sell was refused by a guard
    ORDER_FAILED = "order_failed"  # the exchange refused the order for a reason a retry cannot fix
    NOTHING_TO_SELL = "nothing_to_sell"
    ORDER_STATE_UNKNOWN = "order_state_unknown"  # an order's fate is unknown: reconcile, then resume


@dataclass(frozen=True, slots=True)
class LoopRules:
    """The policy, resolved for one intent's purpose."""

    purpose: Purpose
    max_no_fill: int
    max_slices: int
    cushion_ticks: int
    max_cushion_ticks: int
    max_slice_usd: Decimal
    allow_taker_fallback: bool
    taker_threshold_usd: Decimal
    taker_max_slippage_bps: int
    side: Side = Side.SELL

    @classmethod
    def for_purpose(cls, purpose: Purpose, policy: Policy, side: Side = Side.SELL) -> LoopRules:
        normal, purge = policy.execution, policy.portfolio_management.purge_execution
        if purpose is Purpose.PURGE:
            if side is not Side.SELL:
                raise ValueError("a purge only sells")
            return cls(
                purpose=purpose,
                max_no_fill=purge.max_consecutive_no_fill,
                max_slices=purge.max_slices,
                cushion_ticks=purge.cushion_ticks,
                max_cushion_ticks=purge.max_cushion_ticks,
                max_slice_usd=normal.max_slice_usd,
                allow_taker_fallback=purge.allow_taker_fallback,
                taker_threshold_usd=purge.taker_fallback_threshold_usd,
                taker_max_slippage_bps=purge.taker_max_slippage_bps,
            )
        return cls(
            purpose=purpose,
            max_no_fill=normal.max_maker_attempts,
            max_slices=normal.max_maker_attempts,
            cushion_ticks=normal.cushion_ticks,
            max_cushion_ticks=normal.max_cushion_ticks,
            max_slice_usd=normal.max_slice_usd,
            allow_taker_fallback=False,  # normal trading never takes: the fallback is for purges only
            taker_threshold_usd=ZERO,
            taker_max_slippage_bps=0,
            side=side,
        )


@dataclass(frozen=True, slots=True)
class LoopState:
    remaining: Decimal
    cushion_ticks: int
    maker_attempts: int = 0  # maker orders that rested; the TTL is chosen by this index
    consecutive_no_fill: int = 0
    taker_sent: bool = False
    finished: Outcome | None = None


@dataclass(frozen=True, slots=True)
class QuoteReason:
    """Why a model-priced step is what it is: the model's quote distance from the mid (in spreads
    and in ticks), the lots and the time it was solved for, and the give-up cost it priced in."""

    model: str
    distance_spreads: float
    distance_ticks: float
    lots_left: int
    remaining: Decimal
    time_left_sec: float
    give_up_spreads: float


@dataclass(frozen=True, slots=True)
class PlaceMakerSlice:
    """One maker attempt: post-only ``cushion_ticks`` from the opposite touch (a sell: best bid +
    cushion; a cushion of the spread is the ask), resting ``ttl_sec`` (None: the purpose's adaptive
    TTL for ``attempt_index``, priced from the order's own book). ``requote_sec``: within the
    attempt, cancel and re-price from a fresh book every so many seconds until the TTL is used.
    ``tracking``: within the attempt, re-place the order whenever it is no longer top of book
    (``algorithms.tob``), within its replace budget; it needs an explicit ``ttl_sec``.
    ``watch_sec``: while an order rests untracked, read the book this often anyway, for the loop's
    touch history (``PolicyView.touches``); the order itself stays where it is."""

    size: Decimal
    cushion_ticks: int
    attempt_index: int
    ttl_sec: int | None = None
    requote_sec: int | None = None
    tracking: Tracking | None = None
    watch_sec: float | None = None
    reason: QuoteReason | None = None  # a model-priced attempt: why it sits there (the transcript's)


@dataclass(frozen=True, slots=True)
class PlaceTakerFallback:
    """One limit IOC for ``size``. ``fallback``: it is the design note's aggressive purge fallback
    (logged as such); a policy that takes by plan (a market sell, a timed-out exit) says False."""

    size: Decimal
    remaining_value_usd: Decimal
    fallback: bool = True
    reason: QuoteReason | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    outcome: Outcome
    remaining_value_usd: Decimal


Decision = PlaceMakerSlice | PlaceTakerFallback | Finish


def start(size: Decimal, rules: LoopRules) -> LoopState:
    return LoopState(remaining=size, cushion_ticks=rules.cushion_ticks)


def settled(state: LoopState, product: Product, book: OrderBook, rules: LoopRules) -> Finish | None:
    """The end every policy shares: the loop already finished, nothing is left, only dust is left,
    or the one taker order was sent. None while there is still something to do."""
    value = state.remaining * book.mid
    if state.finished is not None:
        return Finish(state.finished, value)
    if state.remaining <= ZERO:
        return Finish(Outcome.COMPLETE, ZERO)
    touch = book.best_bid if rules.side is Side.SELL else book.best_ask  # what the notional is worth
    if not product.is_orderable(state.remaining, touch):
        return Finish(Outcome.DUST, value)
    if state.taker_sent:  # pragma: no cover - after_taker always finishes the loop
        return Finish(Outcome.TAKER_FAILED, value)
    return None


def decide(state: LoopState, product: Product, book: OrderBook, rules: LoopRules) -> Decision:
    """The design note's next step, from the loop's state and a fresh book."""
    mid = book.mid
    value = state.remaining * mid
    done = settled(state, product, book, rules)
    if done is not None:
        return done
    if state.consecutive_no_fill >= rules.max_no_fill or state.maker_attempts >= rules.max_slices:
        return after_patience(state, value, rules)
    return PlaceMakerSlice(
        size=slice_size(state.remaining, mid, product, rules.max_slice_usd),
        cushion_ticks=state.cushion_ticks,
        attempt_index=state.maker_attempts,
    )


def after_patience(state: LoopState, value: Decimal, rules: LoopRules) -> Decision:
    """The design note's end of patience: the one guarded taker for a purge under the threshold."""
    if rules.purpose is not Purpose.PURGE:
        return Finish(Outcome.MAX_ATTEMPTS, value)
    if value > rules.taker_threshold_usd:
        return Finish(Outcome.RESIDUAL_EXCEEDS_THRESHOLD, value)
    if not rules.allow_taker_fallback:
        return Finish(Outcome.TAKER_FALLBACK_DISABLED, value)
    return PlaceTakerFallback(size=state.remaining, remaining_value_usd=value)


def slice_size(remaining: Decimal, mid: Decimal, product: Product, max_slice_usd: Decimal) -> Decimal:
    """Split ``remaining`` into equal slices of at most ``max_slice_usd``, on the lot grid.

    A slice that would leave a remainder below the product's minimum takes that remainder too,
    so the loop never manufactures dust.
    """
    slices = max(1, int(ceil_to(remaining * mid / max_slice_usd, Decimal(1))))
    size = product.size_floor(remaining / slices)
    minimum = product.min_order_size(mid)
    if size < minimum or remaining - size < minimum:
        return remaining
    return size


def after_maker(state: LoopState, filled: Decimal) -> LoopState:
    """A maker order rested for its TTL (or filled) and is now terminal."""
    return replace(
        state,
        remaining=state.remaining - filled,
        maker_attempts=state.maker_attempts + 1,
        consecutive_no_fill=0 if filled > ZERO else state.consecutive_no_fill + 1,
    )


def after_post_only_reject(state: LoopState, rules: LoopRules) -> LoopState:
    """The book moved through our price before the order arrived: re-quote one tick wider."""
    if state.cushion_ticks < rules.max_cushion_ticks:
        return replace(state, cushion_ticks=state.cushion_ticks + 1)
    return replace(state, consecutive_no_fill=state.consecutive_no_fill + 1)


def after_guard_block(state: LoopState, rules: LoopRules) -> LoopState:
    """A guard refused the maker slice. A purge counts it as an attempt without a fill (the taker
    fallback, which the design note lets bypass the guards, may still get out); a normal sell stops."""
    if rules.purpose is Purpose.PURGE:
        return replace(state, consecutive_no_fill=state.consecutive_no_fill + 1)
    return replace(state, finished=Outcome.GUARD_BLOCKED)


def after_order_failure(state: LoopState) -> LoopState:
    """The exchange refused or failed an order for a reason re-quoting cannot fix."""
    return replace(state, finished=Outcome.ORDER_FAILED)


def after_taker(state: LoopState, filled: Decimal, product: Product, price: Decimal) -> LoopState:
    """The one taker order is terminal: the loop ends whatever it filled."""
    remaining = state.remaining - filled
    if filled <= ZERO:
        outcome = Outcome.TAKER_FAILED
    elif remaining <= ZERO:
        outcome = Outcome.COMPLETE
    elif not product.is_orderable(remaining, price):
        outcome = Outcome.DUST
    else:
        outcome = Outcome.TAKER_PARTIAL
    return replace(state, remaining=remaining, taker_sent=True, finished=outcome)
