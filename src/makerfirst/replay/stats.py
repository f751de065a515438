"""Intervals for execution figures: a seeded bootstrap over episodes, and Wilson for proportions.

Episodes are the independent units (a replay's episodes of one product never overlap; synthetic
ones run on their own markets), so every statistic is resampled by drawing episodes with
replacement (``RESAMPLES`` times, from ``seed``) and recomputing it on the drawn episodes: the
95 % interval is the 2.5th and 97.5th percentile of those (the percentile bootstrap). A statistic
is a function of an index matrix (one row per resample), vectorized with numpy.

Proportions (completion, a fill within the horizon) use the Wilson score interval instead, which
stays honest at 0 and 1, where a bootstrap collapses to a point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from makerfirst.replay.distinct import distinct

RESAMPLES = 2000
Z95 = 1.959963984540054

Statistic = Callable[[NDArray[np.intp]], NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class Interval:
    """A figure with its 95 % interval and sample size; ``value`` None when there is no sample."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str  # "bootstrap", "wilson" or "none"

    def as_json(self) -> dict[str, object]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n, "method": self.method}

    def covers(self, truth: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= truth <= self.high


EMPTY = Interval(None, None, None, 0, "none")


def _round(x: float, places: int) -> float | None:
    return None if math.isnan(x) else round(x, places)


def bootstrap(n: int, statistic: Statistic, *, seed: int, places: int = 2) -> Interval:
    """``statistic`` on all ``n`` episodes, with its percentile-bootstrap 95 % interval.

    ``statistic`` maps an (R, n) matrix of episode indices to R values (NaN where undefined).
    """
    if n == 0:
        return EMPTY
    point = float(statistic(np.arange(n, dtype=np.intp)[None, :])[0])
    if math.isnan(point):
        return Interval(None, None, None, n, "bootstrap")
    rng = np.random.default_rng(seed)
    drawn = statistic(rng.integers(0, n, size=(RESAMPLES, n)).astype(np.intp))
    drawn = drawn[~np.isnan(drawn)]
    if drawn.size == 0:
        return Interval(_round(point, places), None, None, n, "bootstrap")
    low, high = percentiles(drawn, _BOUNDS_95)
    return Interval(
        _round(point, places), _round(float(low), places), _round(float(high), places), n, "bootstrap"
    )


_BOUNDS_95 = np.array([2.5, 97.5]) / 100


def percentiles(values: NDArray[np.float64], shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.percentile(values, 100 * shares)`` (its default linear method, value for value) for a
    1-D array without NaN: numpy's own partitions through ``np.unique``, whose masked-array check
    imports ``numpy.ma`` (about 10 ms, once per process)."""
    ordered = np.sort(values)
    n = len(ordered)
    virtual = (n - 1) * shares
    below = np.floor(virtual)
    at_end = virtual >= n - 1
    below[at_end] = -1  # numpy's convention: the last value, whatever the weight
    above = np.where(at_end, -1, below + 1)
    low, high = ordered[below.astype(np.intp)], ordered[above.astype(np.intp)]
    weight = virtual - below
    diff = high - low
    # numpy's lerp: from the nearer end, so that a weight near 1 lands exactly on the upper value
    result: NDArray[np.float64] = np.where(weight >= 0.5, high - diff * (1 - weight), low + diff * weight)
    return result


def mean_of(values: NDArray[np.float64]) -> Statistic:
    return lambda idx: values[idx].mean(axis=1)


def median_of(values: NDArray[np.float64]) -> Statistic:
    """The median of the non-NaN values (NaN marks an episode the statistic leaves out)."""

    def statistic(idx: NDArray[np.intp]) -> NDArray[np.float64]:
        # np.nanmedian's result, without its masked-array path (numpy.ma, 6 ms to import): NaNs
        # sort last, so a row's k values are its first k; the median is the mean of the middle two.
        ordered = np.sort(values[idx], axis=1)
        count = (~np.isnan(ordered)).sum(axis=1)
        out = np.full(ordered.shape[0], np.nan)
        has = count > 0
        rows = np.flatnonzero(has)
        low = ordered[rows, (count[has] - 1) // 2]
        high = ordered[rows, count[has] // 2]
        out[has] = (low + high) / 2
        return out

    return statistic


def quantile_of(values: NDArray[np.float64], share: float) -> Statistic:
    """The nearest-rank ``share`` quantile (the reported p95 is a value that occurred)."""

    def statistic(idx: NDArray[np.intp]) -> NDArray[np.float64]:
        ordered = np.sort(values[idx], axis=1)
        rank = max(1, math.ceil(share * ordered.shape[1]))
        return ordered[:, rank - 1]

    return statistic


def ratio_of_sums(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> Statistic:
    def statistic(idx: NDArray[np.intp]) -> NDArray[np.float64]:
        bottom = denominator[idx].sum(axis=1)
        top = numerator[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(bottom != 0, top / np.where(bottom != 0, bottom, 1), np.nan)

    return statistic


def grouped_ratio_mean(
    numerator: NDArray[np.float64], denominator: NDArray[np.float64], groups: NDArray[np.intp]
) -> Statistic:
    """The ratio of sums within each group (a product), then the mean over the groups drawn."""

    masks = [(groups == g).astype(np.float64) for g in distinct(groups)]  # once, not per call
    numerators = [numerator * mask for mask in masks]
    denominators = [denominator * mask for mask in masks]

    def statistic(idx: NDArray[np.intp]) -> NDArray[np.float64]:
        per_group = []
        for top_values, bottom_values in zip(numerators, denominators, strict=True):
            bottom = bottom_values[idx].sum(axis=1)
            top = top_values[idx].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_group.append(np.where(bottom != 0, top / np.where(bottom != 0, bottom, 1), np.nan))
        stacked = np.vstack(per_group)
        out = np.full(idx.shape[0], np.nan)
        has = ~np.isnan(stacked).all(axis=0)
        out[has] = np.nanmean(stacked[:, has], axis=0)
        return out

    return statistic


def wilson(successes: int, n: int, *, places: int = 4) -> Interval:
    """The share ``successes / n`` with its Wilson score 95 % interval."""
    if n == 0:
        return EMPTY
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(
        round(p, places),
        round(max(0.0, centre - half), places),
        round(min(1.0, centre + half), places),
        n,
        "wilson",
    )
