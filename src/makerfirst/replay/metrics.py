"""Execution metrics for sell episodes (PRODUCT.md "How we measure execution"; execution-theory.md §4).

All pure functions of numbers and books. Costs are positive when bad, in basis points of the
episode's size valued at the arrival mid. Money stays ``Decimal``; only the summary statistics
that a table or JSON prints are rounded.

* **Implementation shortfall** ``IS = (Q·m₀ − (Σpᵢqᵢ − ΣFᵢ) − R·v_R) / (Q·m₀)``: fills net of fees,
  plus the residual ``R`` unsold at the deadline, charged as a forced taker sale that walks the
  bids with the taker fee (``v_R`` net; bids that cannot absorb it all leave the rest worth 0).
* **References, per episode, from the arrival book:** the immediate market sell (walk the bids,
  taker fee) and the perfect maker (everything at the arrival ask, maker fee).
* **E, the share of the maker premium captured** ``(IS_market_sell − IS_policy) / (IS_market_sell
  − IS_perfect_maker)``, computed on the means over a policy's episodes (a ratio of means: the
  per-episode ratio is unstable when an episode's spread is small). 1 is the perfect maker, 0 a
  market sell; drift can push single episodes beyond either.
* **Completion**: everything sold by the deadline (or only dust, below the product's minimums, is
  left). **Maker share**: base sold as maker over base requested, the forced residual counting as
  taker volume. **Time to complete**: arrival to last fill, completed episodes only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import BPS, ZERO


def shortfall_bps(
    size: Decimal, arrival_mid: Decimal, fills_value: Decimal, fees: Decimal, residual_net: Decimal
) -> Decimal:
    """IS in bps for a sell of ``size`` (base) against ``arrival_mid``; ``residual_net`` is the forced
    sale's proceeds after its fee. A zero-size episode costs nothing."""
    benchmark = size * arrival_mid
    if benchmark <= ZERO:
        return ZERO
    return (benchmark - (fills_value - fees) - residual_net) / benchmark * BPS


def forced_sale_net(book: OrderBook, size: Decimal, taker_fee: Decimal) -> Decimal:
    """Quote proceeds, after the taker fee, of selling ``size`` into ``book``'s bids right now."""
    if size <= ZERO:
        return ZERO
    _, gross = book.sell_proceeds(size)
    return gross * (1 - taker_fee)


def market_sell_bps(book: OrderBook, size: Decimal, taker_fee: Decimal) -> Decimal:
    """IS of selling ``size`` at once into ``book``'s bids with the taker fee (vs ``book``'s mid)."""
    return shortfall_bps(size, book.mid, ZERO, ZERO, forced_sale_net(book, size, taker_fee))


def perfect_maker_bps(book: OrderBook, maker_fee: Decimal) -> Decimal:
    """IS of selling everything at ``book``'s ask with the maker fee (vs ``book``'s mid)."""
    return (book.mid - book.best_ask * (1 - maker_fee)) / book.mid * BPS


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """One policy on one episode. Sizes in base, values and fees in quote, times in seconds."""

    episode_id: int
    mode: str  # "replay", "calibrated" or "synthetic"
    policy: str
    product_id: str
    size: Decimal
    arrival_mid: Decimal
    filled_size: Decimal
    filled_value: Decimal
    fees: Decimal
    maker_size: Decimal
    residual_size: Decimal
    residual_net: Decimal
    completed: bool
    time_to_complete_sec: float | None
    is_bps: Decimal
    market_sell_bps: Decimal
    perfect_maker_bps: Decimal
    loop_outcome: str  # how the policy's own loop ended ("complete", "deadline", "taker_failed", ...)
    orders: int


@dataclass(frozen=True, slots=True)
class PolicyMetrics:
    """A policy's summary over its episodes. ``e`` is None when the references coincide."""

    policy: str
    mode: str
    episodes: int
    is_mean_bps: float
    is_median_bps: float
    is_p95_bps: float
    e: float | None
    completion_rate: float
    maker_share: float
    time_to_complete_median_sec: float | None
    time_to_complete_p90_sec: float | None
    market_sell_mean_bps: float
    perfect_maker_mean_bps: float
    orders_mean: float

    def as_json(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "mode": self.mode,
            "episodes": self.episodes,
            "is_mean_bps": self.is_mean_bps,
            "is_median_bps": self.is_median_bps,
            "is_p95_bps": self.is_p95_bps,
            "e": self.e,
            "completion_rate": self.completion_rate,
            "maker_share": self.maker_share,
            "time_to_complete_median_sec": self.time_to_complete_median_sec,
            "time_to_complete_p90_sec": self.time_to_complete_p90_sec,
            "market_sell_mean_bps": self.market_sell_mean_bps,
            "perfect_maker_mean_bps": self.perfect_maker_mean_bps,
            "orders_mean": self.orders_mean,
        }


def percentile(values: Sequence[Decimal], share: float) -> Decimal:
    """Nearest-rank percentile (``share`` in (0, 1]); the largest value for ``share=1``."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of no values")
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, start=ZERO) / len(values)


def capture_ratio(market_sell: Decimal, perfect_maker: Decimal, policy: Decimal) -> Decimal | None:
    """E = (IS_market_sell − IS_policy) / (IS_market_sell − IS_perfect_maker), None if undefined."""
    gap = market_sell - perfect_maker
    if gap == ZERO:
        return None
    return (market_sell - policy) / gap


def _r(value: Decimal, places: int = 2) -> float:
    return round(float(value), places)


def summarize(results: Sequence[EpisodeResult]) -> PolicyMetrics:
    """Summarize one policy's results (all of one policy and mode)."""
    if not results:
        raise ValueError("no episodes to summarize")
    costs = [r.is_bps for r in results]
    market, maker = _mean([r.market_sell_bps for r in results]), _mean([r.perfect_maker_bps for r in results])
    mean_cost = _mean(costs)
    e = capture_ratio(market, maker, mean_cost)
    times = sorted(
        Decimal(repr(r.time_to_complete_sec)) for r in results if r.time_to_complete_sec is not None
    )
    requested = sum((r.size for r in results), start=ZERO)
    made = sum((r.maker_size for r in results), start=ZERO)
    return PolicyMetrics(
        policy=results[0].policy,
        mode=results[0].mode,
        episodes=len(results),
        is_mean_bps=_r(mean_cost),
        is_median_bps=_r(median(costs)),
        is_p95_bps=_r(percentile(costs, 0.95)),
        e=None if e is None else _r(e, 3),
        completion_rate=round(sum(r.completed for r in results) / len(results), 4),
        maker_share=_r(made / requested, 4) if requested > ZERO else 0.0,
        time_to_complete_median_sec=_r(median(times)) if times else None,
        time_to_complete_p90_sec=_r(percentile(times, 0.9)) if times else None,
        market_sell_mean_bps=_r(market),
        perfect_maker_mean_bps=_r(maker),
        orders_mean=round(sum(r.orders for r in results) / len(results), 2),
    )
