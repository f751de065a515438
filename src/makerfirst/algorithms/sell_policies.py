"""Sell policies: what the TWAP loop does next, decided from what it sees (pure: no I/O).

A policy reads a :class:`PolicyView` (the loop's state, a fresh book, the product, the resolved
rules and the whole policy configuration, the time and the deadline) and answers one
``twap.Decision``: a maker attempt (its cushion from the opposite touch, its TTL, optional
re-quotes within the attempt), the one taker order, or the end. The loop (``execution/twap_loop``)
carries it out the same way live, on paper and in replay, and folds each attempt's result back
into the state with ``twap.after_*``.

The reference policies the backtests compare:

* :class:`MarketSell`: one IOC for everything at once.
* :class:`FixedTtl`: the old loop: post-only at the configured cushion, the same TTL every attempt
  (``maker_first_ttl_sec``), never a taker; it never finishes on a market without buyers.
* :class:`DesignNote`: the design note's loop (``twap.decide``): the purge TTL ladder, then the
  guarded taker fallback.
* :class:`TopOfBook`: the design note's loop, each maker attempt tracking the top of the book
  (``algorithms.tob``): re-placed when it is no longer the best ask, within a replace budget.
* :class:`LimitThenMarket`: Freqtrade-like: a limit at the best ask for ``maker_first_ttl_sec``,
  re-placed at the new ask after each unfilled timeout; after ``max_consecutive_no_fill``
  timeouts, a market exit (IOC at the configured cap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from makerfirst.algorithms import twap
from makerfirst.algorithms.tob import Tracking
from makerfirst.algorithms.touch_history import TouchHistory
from makerfirst.algorithms.ttl import adaptive_maker_ttl_sec
from makerfirst.domain.book import OrderBook
from makerfirst.domain.product import Product
from makerfirst.policy import Policy


@dataclass(frozen=True, slots=True)
class PolicyView:
    """What a policy sees before each step. Times are seconds on the loop's clock; ``deadline`` is
    when the caller stops the loop (None: no deadline); ``touches``: every book the loop has read
    in this run, ``book`` included (None: a caller that keeps none)."""

    state: twap.LoopState
    product: Product
    book: OrderBook
    rules: twap.LoopRules
    config: Policy
    now: float
    started_at: float
    deadline: float | None = None
    touches: TouchHistory | None = None

    @property
    def time_left_sec(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.now)

    @property
    def spread_ticks(self) -> int:
        """The spread in ticks (at least 1): the cushion that puts a sell at the best ask."""
        return max(1, int((self.book.best_ask - self.book.best_bid) / self.product.price_increment))

    def settled(self) -> twap.Finish | None:
        return twap.settled(self.state, self.product, self.book, self.rules)

    def maker(self, cushion_ticks: int, ttl_sec: int | None, requote_sec: int | None = None) -> twap.Decision:
        """A maker attempt for the next slice (``twap.slice_size``) of what is left."""
        size = twap.slice_size(self.state.remaining, self.book.mid, self.product, self.rules.max_slice_usd)
        return twap.PlaceMakerSlice(
            size=size,
            cushion_ticks=cushion_ticks,
            attempt_index=self.state.maker_attempts,
            ttl_sec=ttl_sec,
            requote_sec=requote_sec,
        )

    def take_all(self, *, fallback: bool = False) -> twap.Decision:
        remaining = self.state.remaining
        return twap.PlaceTakerFallback(remaining, remaining * self.book.mid, fallback=fallback)


class SellPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def decide(self, view: PolicyView) -> twap.Decision:
        """The loop's next step."""
        ...


class DesignNote:
    """The design note's loop: maker slices on the purge TTL ladder, then the guarded taker fallback."""

    name = "design_note"

    def decide(self, view: PolicyView) -> twap.Decision:
        return twap.decide(view.state, view.product, view.book, view.rules)


class TopOfBook:
    """The design note's loop (same ladder, same TTLs, same taker fallback), each maker attempt
    re-placed within its TTL whenever it is no longer top of book (``tracking``)."""

    name = "tob"

    def __init__(self, tracking: Tracking | None = None) -> None:
        self.tracking = tracking  # None: the policy's ``purge_execution.tracking`` keys

    def decide(self, view: PolicyView) -> twap.Decision:
        decision = twap.decide(view.state, view.product, view.book, view.rules)
        if not isinstance(decision, twap.PlaceMakerSlice):
            return decision
        # The TTL the engine would choose for this attempt, made explicit: tracking needs its end.
        ttl = adaptive_maker_ttl_sec(
            view.rules.purpose, decision.attempt_index, view.book.spread_bps, view.config
        )
        return replace(decision, ttl_sec=ttl, tracking=self.tracking or Tracking.from_policy(view.config))


class MarketSell:
    """Everything at once with one IOC (the configured cap below the bid)."""

    name = "market_sell"

    def decide(self, view: PolicyView) -> twap.Decision:
        return view.settled() or view.take_all()


class FixedTtl:
    """The old loop: post-only at the configured cushion with one fixed TTL, re-placed until it
    fills or ``max_slices`` attempts are used; never a taker."""

    name = "fixed_ttl"

    def decide(self, view: PolicyView) -> twap.Decision:
        done = view.settled()
        if done is not None:
            return done
        if view.state.maker_attempts >= view.rules.max_slices:
            return twap.Finish(twap.Outcome.MAX_ATTEMPTS, view.state.remaining * view.book.mid)
        ttl = view.config.portfolio_management.purge_execution.maker_first_ttl_sec
        return view.maker(view.state.cushion_ticks, ttl)


class LimitThenMarket:
    """Freqtrade's exit: a limit at the best ask with an unfilled timeout, re-placed at the new ask
    after each timeout, then a market exit."""

    name = "freqtrade"

    def decide(self, view: PolicyView) -> twap.Decision:
        done = view.settled()
        if done is not None:
            return done
        purge = view.config.portfolio_management.purge_execution
        state = view.state
        # A partial fill is still a timeout; a refused order counts too, so the loop is bounded.
        if max(state.maker_attempts, state.consecutive_no_fill) >= purge.max_consecutive_no_fill:
            return view.take_all()
        return view.maker(view.spread_ticks, purge.maker_first_ttl_sec)
