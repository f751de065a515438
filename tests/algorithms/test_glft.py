"""The GLFT liquidation quote (matrix-exponential solution) against the paper's closed forms."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from makerfirst.algorithms.glft import (
    FillCurve,
    GlftParams,
    asymptotic_distance,
    no_risk_distance,
    optimal_distance,
    single_lot_distance,
)

# execution-theory.md §1.3's illustration: ticks and lots, A = 0.02/s, k = 0.8/tick, σ = 0.6 tick/√s.
NOTE = GlftParams(a_per_sec=0.02, k=0.8, sigma=0.6, gamma=0.05, b=14.0)
NOTE_TABLE = {
    0: [-12.79, -12.79, -12.79, -12.79, -12.79],
    10: [-2.13, -3.06, -3.62, -4.03, -4.37],
    60: [-0.11, -1.27, -2.04, -2.62, -3.09],
    300: [1.05, -0.59, -1.57, -2.28, -2.83],
    900: [1.20, -0.53, -1.55, -2.26, -2.82],
}

positive = st.floats(min_value=0.05, max_value=3.0)


def test_the_solution_reproduces_the_design_notes_table() -> None:
    for tau, row in NOTE_TABLE.items():
        assert [round(optimal_distance(NOTE, q, tau), 2) for q in range(1, 6)] == row


def test_at_the_deadline_the_quote_gives_up_b() -> None:
    assert optimal_distance(NOTE, 3, 0.0) == pytest.approx(
        -NOTE.b + math.log1p(NOTE.gamma / NOTE.k) / NOTE.gamma
    )


@settings(max_examples=60, deadline=None)
@example(a=1.0, k=1.0, sigma=2.0, gamma=1.0, b=0.0, tau=5e-324)  # a subnormal τ once underflowed a log
@given(a=st.floats(0.001, 1.0), k=positive, sigma=st.floats(0.01, 2.0), gamma=st.floats(0.01, 1.0),
       b=st.floats(0.0, 30.0), tau=st.floats(0.0, 600.0))  # fmt: skip
def test_one_lot_matches_the_exact_scalar_formula(
    a: float, k: float, sigma: float, gamma: float, b: float, tau: float
) -> None:
    params = GlftParams(a, k, sigma, gamma, b)
    assert optimal_distance(params, 1, tau) == pytest.approx(single_lot_distance(params, tau), abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.001, 1.0), k=positive, gamma=st.floats(0.01, 1.0), b=st.floats(0.0, 30.0),
       tau=st.floats(0.0, 600.0), q=st.integers(1, 8))  # fmt: skip
def test_without_volatility_it_is_the_closed_form_sum(
    a: float, k: float, gamma: float, b: float, tau: float, q: int
) -> None:
    params = GlftParams(a, k, 0.0, gamma, b)
    assert optimal_distance(params, q, tau) == pytest.approx(no_risk_distance(params, q, tau), abs=1e-6)


def test_without_volatility_and_with_no_penalty_at_the_end_it_is_the_log_formula() -> None:
    # σ = 0 and a terminal sale so costly it never pays (b → ∞): δ* = (1/k)·ln[A·τ / ((1 + γ/k)·q)],
    # "post where the expected fill count over the time left is about q·(1 + γ/k)".
    params = GlftParams(0.05, 0.7, 0.0, 0.1, b=200.0)
    for q, tau in ((1, 30.0), (3, 120.0), (6, 600.0)):
        expected = math.log(params.a_per_sec * tau / ((1 + params.gamma / params.k) * q)) / params.k
        assert optimal_distance(params, q, tau) == pytest.approx(expected, abs=1e-6)


def test_a_long_horizon_converges_to_the_asymptotic_quote() -> None:
    for q in range(1, 6):
        assert optimal_distance(NOTE, q, 5_000.0) == pytest.approx(asymptotic_distance(NOTE, q), abs=1e-3)


def test_the_risk_neutral_limit_is_cartea_jaimungals() -> None:
    params = GlftParams(0.05, 0.7, 0.3, 1e-7, 5.0)
    assert params.eta == pytest.approx(0.05 / math.e, rel=1e-5)
    assert params.premium == pytest.approx(1 / 0.7, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(tau=st.floats(0.0, 1_000.0))
def test_more_inventory_or_less_time_quotes_lower(tau: float) -> None:
    quotes = [optimal_distance(NOTE, q, tau) for q in range(1, 6)]
    assert all(a >= b - 1e-9 for a, b in itertools.pairwise(quotes))
    assert single_lot_distance(NOTE, tau) <= single_lot_distance(NOTE, tau + 10.0) + 1e-9


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="GLFT needs"):
        GlftParams(0.0, 0.8, 0.6, 0.05, 14.0)
    with pytest.raises(ValueError, match="at least one lot"):
        optimal_distance(NOTE, 0, 10.0)


def test_a_huge_give_up_cost_or_a_tiny_intensity_stays_finite() -> None:
    # k·b = 800 (a one-tick spread with an 87-tick fee gap) would underflow e^(−kb) to zero.
    steep = GlftParams(a_per_sec=1.0, k=9.0, sigma=0.0, gamma=0.5, b=88.9)
    assert optimal_distance(steep, 1, 0.0) == pytest.approx(-steep.b + steep.premium)
    for q, tau in ((1, 10.0), (5, 10.0), (40, 300.0)):
        # Past the first instants the terminal sale no longer matters: the b → ∞ log formula.
        expected = math.log(steep.a_per_sec * tau / ((1 + steep.gamma / steep.k) * q)) / steep.k
        assert optimal_distance(steep, q, tau) == pytest.approx(expected, abs=1e-6)
    assert single_lot_distance(steep, 0.0) == pytest.approx(-steep.b + steep.premium)
    faint = GlftParams(a_per_sec=1e-9, k=0.05, sigma=0.3, gamma=0.5, b=0.6)
    assert all(math.isfinite(optimal_distance(faint, q, 3_600.0)) for q in (1, 10, 40))


def test_a_curve_file_written_before_the_drift_was_measured_reads_as_no_drift() -> None:
    row = FillCurve("X-USD", 0.1, 1.0, 0.2, 10.0, 100, 10, (0.05, 0.2), (0.5, 2.0), mu=-0.02).as_json()
    assert FillCurve.from_json(row, "curves.json").mu == -0.02
    del row["mu_spreads_per_sec"]
    assert FillCurve.from_json(row, "curves.json").mu == 0.0
