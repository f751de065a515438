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
  left). **Maker share**: per product, the value sold as maker over the value requested (at the
  arrival mid), then the mean over products (base units of different products never add up).
  **Time to complete**: arrival to last fill, completed episodes only.
* **Censored** episodes (a replay whose data ended while the policy was still working, before its
  deadline) are counted, and left out of every IS figure, E and the paired comparison: they are
  not charged as a completed taker sale. Completion and "a fill within the horizon" include them.
* **Markouts** of our fills at 1, 5, 30 and 60 s: the mid move after the fill, in bps of the mid at
  the fill, signed so that adverse selection is positive (a sell: the mid rose after we sold);
  size-weighted over the fills. A horizon past the end of the data is left out and counted.
* **Paired comparison**: on the episodes neither run was censored in, each policy's IS minus the
  reference policy's (the design note's), its mean with a paired-bootstrap interval, and the
  episodes it won, tied (within ``TIE_BPS``) and lost.
* **The taker leg** (``taker_leg.py``): the taker orders, the episodes with one, how far their
  fills went under the bid each IOC was priced from (worst, p95) and how many went beyond the cap
  of the policy the episode ran with.

Every figure carries a 95 % interval and its sample size (``stats.py``: a seeded bootstrap over
episodes; Wilson for proportions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from makerfirst.algorithms.shortfall import forced_residual_value, implementation_shortfall_bps
from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Side
from makerfirst.replay.stats import (
    EMPTY,
    Interval,
    Statistic,
    bootstrap,
    grouped_ratio_mean,
    mean_of,
    median_of,
    quantile_of,
    ratio_of_sums,
    wilson,
)
from makerfirst.replay.taker_leg import TakerLeg, TakerOrder, summarize_taker_leg

MARKOUT_HORIZONS_SEC = (1, 5, 30, 60)
TIE_BPS = 0.01  # two IS figures closer than this are the same execution
REFERENCE_POLICY = "design_note"


def forced_sale_net(book: OrderBook, size: Decimal, taker_fee: Decimal) -> Decimal:
    """Quote proceeds, after the taker fee, of selling ``size`` into ``book``'s bids right now."""
    return forced_residual_value(book, Side.SELL, size, taker_fee)


def market_sell_bps(book: OrderBook, size: Decimal, taker_fee: Decimal) -> Decimal:
    """IS of selling ``size`` at once into ``book``'s bids with the taker fee (vs ``book``'s mid)."""
    net = forced_sale_net(book, size, taker_fee)
    return implementation_shortfall_bps(
        Side.SELL, size, book.mid, filled_value=ZERO, fees=ZERO, residual_value=net
    )


def perfect_maker_bps(book: OrderBook, maker_fee: Decimal) -> Decimal:
    """IS of selling everything at ``book``'s ask with the maker fee (vs ``book``'s mid)."""
    return (book.mid - book.best_ask * (1 - maker_fee)) / book.mid * BPS


def capture_ratio(market_sell: Decimal, perfect_maker: Decimal, policy: Decimal) -> Decimal | None:
    """E = (IS_market_sell − IS_policy) / (IS_market_sell − IS_perfect_maker), None if undefined."""
    gap = market_sell - perfect_maker
    if gap == ZERO:
        return None
    return (market_sell - policy) / gap


@dataclass(frozen=True, slots=True)
class Markout:
    """One fill's mid move ``horizon_sec`` after it (bps, adverse positive), weighted by ``size``."""

    horizon_sec: int
    bps: float
    size: float


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """One policy on one episode. Sizes in base, values and fees in quote, times in seconds.

    ``censored``: the data ended (at ``horizon_sec``) while the policy was still working, before
    its deadline; ``is_bps`` then charges the residual at the last book and is left out of every
    IS figure. ``markouts_beyond_data``: per horizon, our fills whose horizon fell past the data."""

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
    maker_value: Decimal
    residual_size: Decimal
    residual_net: Decimal
    completed: bool
    censored: bool
    time_to_complete_sec: float | None
    time_to_first_fill_sec: float | None
    is_bps: Decimal
    market_sell_bps: Decimal
    perfect_maker_bps: Decimal
    loop_outcome: str  # how the policy's own loop ended ("complete", "deadline", "end_of_data", ...)
    orders: int
    deadline_sec: float = math.inf
    horizon_sec: float = math.inf
    markouts: tuple[Markout, ...] = ()
    markouts_beyond_data: tuple[tuple[int, int], ...] = ()
    takers: tuple[TakerOrder, ...] = ()  # its taker orders, with the touch each was priced from
    taker_cap_bps: int | None = None  # the cap of the policy it ran with (taker_max_slippage_bps)

    @property
    def requested_value(self) -> Decimal:
        return self.size * self.arrival_mid


@dataclass(frozen=True, slots=True)
class MarkoutSummary:
    horizon_sec: int
    bps: Interval  # size-weighted mean over fills, bootstrap over episodes
    fills: int
    beyond_data: int

    def as_json(self) -> dict[str, object]:
        return {"horizon_sec": self.horizon_sec, **self.bps.as_json(), "fills": self.fills,
                "beyond_data": self.beyond_data}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """This policy's IS minus the reference's on the same episodes (negative: this one is cheaper)."""

    reference: str
    diff_mean_bps: Interval
    wins: int
    ties: int
    losses: int
    excluded_censored: int

    def as_json(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "is_diff_mean_bps": self.diff_mean_bps.as_json(),
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "excluded_censored": self.excluded_censored,
        }


@dataclass(frozen=True, slots=True)
class PolicyMetrics:
    """A policy's summary over its episodes of one mode, every figure with its 95 % interval.

    IS figures and E cover the ``episodes - censored`` uncensored episodes; E is None when some
    episodes are censored (a full E needs full runs) or the references coincide."""

    policy: str
    mode: str
    episodes: int
    censored: int
    is_mean_bps: Interval
    is_median_bps: Interval
    is_p95_bps: Interval
    e: Interval | None
    completion_rate: Interval
    maker_fill_within_horizon: Interval
    maker_share: Interval
    time_to_complete_median_sec: Interval
    time_to_first_fill_median_sec: Interval
    market_sell_mean_bps: Interval
    perfect_maker_mean_bps: Interval
    orders_mean: Interval
    horizon_median_sec: float | None
    markouts: tuple[MarkoutSummary, ...]
    taker_leg: TakerLeg | None = None
    vs_reference: PairedComparison | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "mode": self.mode,
            "episodes": self.episodes,
            "censored": self.censored,
            "is_mean_bps": self.is_mean_bps.as_json(),
            "is_median_bps": self.is_median_bps.as_json(),
            "is_p95_bps": self.is_p95_bps.as_json(),
            "e": None if self.e is None else self.e.as_json(),
            "completion_rate": self.completion_rate.as_json(),
            "maker_fill_within_horizon": self.maker_fill_within_horizon.as_json(),
            "maker_share": self.maker_share.as_json(),
            "time_to_complete_median_sec": self.time_to_complete_median_sec.as_json(),
            "time_to_first_fill_median_sec": self.time_to_first_fill_median_sec.as_json(),
            "market_sell_mean_bps": self.market_sell_mean_bps.as_json(),
            "perfect_maker_mean_bps": self.perfect_maker_mean_bps.as_json(),
            "orders_mean": self.orders_mean.as_json(),
            "horizon_median_sec": self.horizon_median_sec,
            "markouts": [m.as_json() for m in self.markouts],
            "taker_leg": None if self.taker_leg is None else self.taker_leg.as_json(),
            "vs_reference": None if self.vs_reference is None else self.vs_reference.as_json(),
        }


def percentile(values: Sequence[Decimal], share: float) -> Decimal:
    """Nearest-rank percentile (``share`` in (0, 1]); the largest value for ``share=1``."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _floats(values: Sequence[Decimal | float | None]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _e_statistic(
    market: NDArray[np.float64], maker: NDArray[np.float64], cost: NDArray[np.float64]
) -> Statistic:
    def statistic(idx: NDArray[np.intp]) -> NDArray[np.float64]:
        m, k, c = market[idx].mean(axis=1), maker[idx].mean(axis=1), cost[idx].mean(axis=1)
        gap = m - k
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(gap != 0, (m - c) / np.where(gap != 0, gap, 1), np.nan)

    return statistic


def _markouts(results: Sequence[EpisodeResult], seed: int) -> tuple[MarkoutSummary, ...]:
    out = []
    for h in MARKOUT_HORIZONS_SEC:
        weighted = _floats([sum(m.bps * m.size for m in r.markouts if m.horizon_sec == h) for r in results])
        sizes = _floats([sum(m.size for m in r.markouts if m.horizon_sec == h) for r in results])
        fills = sum(1 for r in results for m in r.markouts if m.horizon_sec == h)
        beyond = sum(n for r in results for horizon, n in r.markouts_beyond_data if horizon == h)
        interval = bootstrap(len(results), ratio_of_sums(weighted, sizes), seed=seed) if fills else EMPTY
        out.append(MarkoutSummary(h, interval, fills, beyond))
    return tuple(out)


def summarize(results: Sequence[EpisodeResult], *, seed: int = 1) -> PolicyMetrics:
    """Summarize one policy's results (all of one policy and mode), with seeded intervals."""
    if not results:
        raise ValueError("no episodes to summarize")
    full = [r for r in results if not r.censored]
    costs = _floats([r.is_bps for r in full])
    market, maker = _floats([r.market_sell_bps for r in full]), _floats([r.perfect_maker_bps for r in full])
    n = len(full)
    e: Interval | None = None
    if n and n == len(results):
        e = bootstrap(n, _e_statistic(market, maker, costs), seed=seed, places=3)
    products = {p: i for i, p in enumerate(dict.fromkeys(r.product_id for r in results))}
    groups = np.array([products[r.product_id] for r in results], dtype=np.intp)
    maker_value = _floats([r.maker_value for r in results])
    requested = _floats([r.requested_value for r in results])
    completed = _floats([r.time_to_complete_sec if r.completed else None for r in results])
    first_fill = _floats([r.time_to_first_fill_sec for r in results])
    horizons = sorted(r.horizon_sec for r in results if math.isfinite(r.horizon_sec))
    return PolicyMetrics(
        policy=results[0].policy,
        mode=results[0].mode,
        episodes=len(results),
        censored=len(results) - n,
        is_mean_bps=bootstrap(n, mean_of(costs), seed=seed),
        is_median_bps=bootstrap(n, median_of(costs), seed=seed),
        is_p95_bps=bootstrap(n, quantile_of(costs, 0.95), seed=seed),
        e=e,
        completion_rate=wilson(sum(r.completed for r in results), len(results)),
        maker_fill_within_horizon=wilson(
            sum(r.time_to_first_fill_sec is not None for r in results), len(results)
        ),
        maker_share=bootstrap(
            len(results), grouped_ratio_mean(maker_value, requested, groups), seed=seed, places=4
        ),
        time_to_complete_median_sec=bootstrap(len(results), median_of(completed), seed=seed),
        time_to_first_fill_median_sec=bootstrap(len(results), median_of(first_fill), seed=seed),
        market_sell_mean_bps=bootstrap(n, mean_of(market), seed=seed),
        perfect_maker_mean_bps=bootstrap(n, mean_of(maker), seed=seed),
        orders_mean=bootstrap(len(results), mean_of(_floats([r.orders for r in results])), seed=seed),
        horizon_median_sec=round(horizons[len(horizons) // 2], 2) if horizons else None,
        markouts=_markouts(results, seed),
        taker_leg=summarize_taker_leg(
            [r.takers for r in results],
            (r.taker_cap_bps for r in results if r.taker_cap_bps is not None),
            seed=seed,
        ),
    )


def compare_paired(
    results: Sequence[EpisodeResult], reference: Sequence[EpisodeResult], *, seed: int = 1
) -> PairedComparison:
    """``results`` vs ``reference`` (the same mode) on the episodes both ran, neither censored."""
    theirs = {r.episode_id: r for r in reference}
    pairs = [(r, theirs[r.episode_id]) for r in results if r.episode_id in theirs]
    kept = [(a, b) for a, b in pairs if not (a.censored or b.censored)]
    diffs = _floats([a.is_bps - b.is_bps for a, b in kept])
    return PairedComparison(
        reference=reference[0].policy if reference else REFERENCE_POLICY,
        diff_mean_bps=bootstrap(len(kept), mean_of(diffs), seed=seed),
        wins=int((diffs < -TIE_BPS).sum()),
        ties=int((abs(diffs) <= TIE_BPS).sum()),
        losses=int((diffs > TIE_BPS).sum()),
        excluded_censored=len(pairs) - len(kept),
    )
