"""95 % intervals for the market check: Wilson for proportions, the Poisson score interval for
rates, and a block bootstrap for quantiles of a time series (blocks keep its autocorrelation)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` without trials)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At 0 or all successes the bound is exactly 0 or 1 (the formula leaves rounding dust).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def poisson_rate(count: int, exposure: float, z: float = Z95) -> tuple[float, float]:
    """Score interval for a Poisson rate: ``count`` events in ``exposure`` seconds."""
    if exposure <= 0:
        return 0.0, math.inf
    centre = count + z * z / 2
    half = z * math.sqrt(count + z * z / 4)
    return max(0.0, (centre - half) / exposure), (centre + half) / exposure


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile ``q`` in [0, 1] of ``values`` (not empty)."""
    ordered = sorted(values)
    x = q * (len(ordered) - 1)
    i = int(x)
    if i + 1 >= len(ordered):
        return ordered[-1]
    return ordered[i] + (x - i) * (ordered[i + 1] - ordered[i])


def block_bootstrap(
    series: Sequence[float],
    block: int,
    statistic: Callable[[Sequence[float]], float],
    *,
    resamples: int = 400,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile 95 % interval of ``statistic`` over resamples of whole consecutive blocks of
    ``block`` samples (non-overlapping blocks, drawn with replacement)."""
    if not series:
        return math.nan, math.nan
    block = max(1, block)
    blocks = [series[i : i + block] for i in range(0, len(series), block)]
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        sample: list[float] = []
        for _ in blocks:
            sample.extend(blocks[rng.randrange(len(blocks))])
        estimates.append(statistic(sample))
    return quantile(estimates, 0.025), quantile(estimates, 0.975)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
