"""The intervals mean what they say: in a small simulation study, 95 % intervals cover the true
value about 95 % of the time; paired comparisons find a real difference and not a made-up one."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from makerfirst.replay.distinct import distinct, distinct_with_ranks
from makerfirst.replay.metrics import EpisodeResult, compare_paired
from makerfirst.replay.stats import (
    bootstrap,
    mean_of,
    median_of,
    percentiles,
    quantile_of,
    ratio_of_sums,
    wilson,
)

STUDIES = 300


def coverage(draw: object, truth: float, statistic: object) -> float:
    rng = np.random.default_rng(11)
    hits = 0
    for study in range(STUDIES):
        sample = draw(rng)  # type: ignore[operator]
        interval = bootstrap(sample.shape[-1], statistic(sample), seed=study)  # type: ignore[operator]
        hits += interval.covers(truth)
    return hits / STUDIES


def test_bootstrap_intervals_of_a_mean_cover_the_truth_about_95_percent_of_the_time() -> None:
    # Skewed costs (exponential, mean 20 bps), 40 episodes a study.
    share = coverage(lambda rng: rng.exponential(20.0, 40), 20.0, mean_of)
    assert 0.88 <= share <= 0.99


def test_bootstrap_intervals_of_a_ratio_of_sums_cover_the_truth() -> None:
    # Maker value over requested value: each episode requests U(10, 50) and sells 60 % of it as maker
    # on average (a noisy share), so the true ratio is 0.6.
    def draw(rng: np.random.Generator) -> np.ndarray:  # type: ignore[type-arg]
        requested = rng.uniform(10, 50, 40)
        return np.vstack([requested * rng.beta(6, 4, 40), requested])

    share = coverage(draw, 0.6, lambda s: ratio_of_sums(s[0], s[1]))
    assert 0.88 <= share <= 0.99


def test_wilson_intervals_cover_a_proportion_and_stay_honest_at_zero() -> None:
    rng = np.random.default_rng(3)
    hits = sum(wilson(int(rng.binomial(30, 0.2)), 30).covers(0.2) for _ in range(STUDIES))
    assert 0.9 <= hits / STUDIES <= 0.99
    none = wilson(0, 12)
    assert none.value == 0.0 and none.high is not None and 0.2 < none.high < 0.3  # not a point at 0


def test_a_quantile_and_an_empty_sample() -> None:
    values = np.arange(1.0, 21.0)
    p95 = bootstrap(20, quantile_of(values, 0.95), seed=1)
    assert p95.value == 19.0 and p95.low is not None and p95.high == 20.0
    assert bootstrap(0, mean_of(values), seed=1).value is None


def _episode(episode_id: int, cost: float, policy: str, *, censored: bool = False) -> EpisodeResult:
    return EpisodeResult(
        episode_id=episode_id, mode="synthetic", policy=policy, product_id="X-USD", size=Decimal(1),
        arrival_mid=Decimal(1), filled_size=Decimal(1), filled_value=Decimal(1), fees=Decimal(0),
        maker_size=Decimal(1), maker_value=Decimal(1), residual_size=Decimal(0), residual_net=Decimal(0),
        completed=not censored, censored=censored, time_to_complete_sec=1.0, time_to_first_fill_sec=1.0,
        is_bps=Decimal(f"{cost:.6f}"), market_sell_bps=Decimal(100), perfect_maker_bps=Decimal(30),
        loop_outcome="complete", orders=1,
    )  # fmt: skip


def test_a_paired_comparison_finds_a_small_real_difference_hidden_in_noisy_episodes() -> None:
    # Episodes vary by ±30 bps; the better policy is 3 bps cheaper on each, with ±1 bps of its own noise.
    # Unpaired, the means' intervals overlap; paired, the difference's interval excludes zero.
    rng = np.random.default_rng(5)
    base = rng.normal(80, 30, 40)
    reference = [_episode(i, c, "design_note") for i, c in enumerate(base)]
    better = [_episode(i, c - 3 + rng.normal(0, 1), "better") for i, c in enumerate(base)]
    paired = compare_paired(better, reference, seed=1)
    diff = paired.diff_mean_bps
    assert diff.high is not None and diff.high < 0 and diff.covers(-3.0)
    assert paired.wins >= 35 and paired.losses <= 5 and paired.excluded_censored == 0
    same = compare_paired([_episode(i, c, "same") for i, c in enumerate(base)], reference, seed=1)
    assert same.ties == 40 and same.diff_mean_bps.covers(0.0)


def test_censored_episodes_are_left_out_of_the_pairing_and_counted() -> None:
    reference = [_episode(0, 50, "design_note", censored=True), _episode(1, 50, "design_note")]
    other = [_episode(0, 10, "x"), _episode(1, 60, "x")]
    paired = compare_paired(other, reference, seed=1)
    assert paired.excluded_censored == 1 and paired.diff_mean_bps.n == 1 and paired.losses == 1


def test_the_median_of_resampled_episodes_is_numpys_nanmedian_row_by_row() -> None:
    """Odd and even counts, NaN (left-out) episodes anywhere, rows of nothing but NaN."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 4, 7, 10):
        values = rng.normal(50.0, 20.0, n)
        values[rng.random(n) < 0.35] = np.nan
        idx = rng.integers(0, n, size=(400, n))
        drawn = values[idx]
        expected = np.full(len(idx), np.nan)
        has = ~np.isnan(drawn).all(axis=1)
        expected[has] = np.nanmedian(drawn[has], axis=1)
        np.testing.assert_array_equal(median_of(values)(idx), expected)


def test_the_interval_bounds_are_numpys_percentiles_value_for_value() -> None:
    """Small and large samples, ties, rounded values: the same floats as np.percentile."""
    rng = np.random.default_rng(5)
    shares = np.array([0.0, 2.5, 50.0, 97.5, 100.0]) / 100
    for _ in range(3000):
        n = int(rng.integers(1, 80))
        values = np.round(rng.normal(0.0, 100.0, n), int(rng.integers(0, 3)))
        if rng.random() < 0.3:
            values = np.repeat(values[: max(1, n // 3)], 3)
        np.testing.assert_array_equal(percentiles(values, shares), np.percentile(values, 100 * shares))


def test_distinct_values_and_ranks_are_numpys_unique() -> None:
    rng = np.random.default_rng(6)
    for n in (0, 1, 2, 50, 5000):
        values = rng.integers(-20, 20, n) * 1_000_000_007
        np.testing.assert_array_equal(distinct(values), np.unique(values))
        kept, ranks = distinct_with_ranks(values)
        expected, inverse = np.unique(values, return_inverse=True)
        np.testing.assert_array_equal(kept, expected)
        np.testing.assert_array_equal(ranks, inverse)
        np.testing.assert_array_equal(kept[ranks], values)
