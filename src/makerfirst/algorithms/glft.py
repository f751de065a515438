"""Optimal liquidation with limit orders (Guéant, Lehalle, Fernandez-Tapia 2012): the quote distance.

Pure numbers, no I/O (``execution-theory.md`` §1.3). We sell ``q`` lots before ``T``; our ask at
``S + δ`` is hit with intensity ``A·e^(−kδ)``; the mid moves as ``dS = μ dt + σ dW``; what is left at
``T`` is dumped at ``S − b``. With the value function ``−exp(−γ(x + qS))·w_q(t)^(−γ/k)`` the HJB
equation is the linear system

    dw_q/dt = (α q² − β q)·w_q − η·w_{q−1},   w_0 ≡ 1,   w_q(T) = e^(−k q b),

with ``α = ½kγσ²``, ``β = kμ`` and ``η = A·(1 + γ/k)^(−(1 + k/γ))``, so ``w(T − τ) = exp(−M τ)·v``
for the lower-bidiagonal ``M`` (``M_qq = αq² − βq``, ``M_q,q−1 = −η``), and the optimal ask is

    δ*(τ, q) = (1/k)·ln(w_q / w_{q−1}) + (1/γ)·ln(1 + γ/k).

Distances are in ticks (or any one unit: ``k`` and ``σ`` are in the same one), times in seconds.
A negative δ* is a quote below the mid; at or below the bid the model wants to cross.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from makerfirst.domain.errors import MakerfirstError

_TAYLOR_TERMS = 24


@dataclass(frozen=True, slots=True)
class FillCurve:
    """Λ(δ) = ``a_per_sec``·e^(−``k``·δ), δ in spreads from the mid; ``sigma`` in spreads per √s;
    ``mu``: the mid's drift in spreads per second (0 where the data do not show one)."""

    product_id: str
    a_per_sec: float
    k: float
    sigma: float
    spread_ticks: float  # the median spread the curve was measured on
    orders: int
    fills: int
    a_interval: tuple[float, float]
    k_interval: tuple[float, float]
    notes: tuple[str, ...] = ()
    mu: float = 0.0

    def intensity(self, distance: float) -> float:
        return self.a_per_sec * math.exp(-self.k * distance)

    def as_json(self) -> dict[str, object]:
        return {
            "product": self.product_id,
            "a_per_sec": round(self.a_per_sec, 6),
            "k_per_spread": round(self.k, 6),
            "sigma_spreads_per_sqrt_sec": round(self.sigma, 6),
            "mu_spreads_per_sec": round(self.mu, 6),
            "median_spread_ticks": round(self.spread_ticks, 3),
            "virtual_orders": self.orders,
            "fills": self.fills,
            "a_interval95": [round(v, 6) for v in self.a_interval],
            "k_interval95": [round(v, 6) for v in self.k_interval],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, row: dict[str, object], where: str) -> FillCurve:
        try:
            a_low, a_high = (float(v) for v in row["a_interval95"])  # type: ignore[attr-defined]
            k_low, k_high = (float(v) for v in row["k_interval95"])  # type: ignore[attr-defined]
            return cls(
                product_id=str(row["product"]),
                a_per_sec=float(row["a_per_sec"]),  # type: ignore[arg-type]
                k=float(row["k_per_spread"]),  # type: ignore[arg-type]
                sigma=float(row["sigma_spreads_per_sqrt_sec"]),  # type: ignore[arg-type]
                spread_ticks=float(row["median_spread_ticks"]),  # type: ignore[arg-type]
                orders=int(row["virtual_orders"]),  # type: ignore[call-overload]
                fills=int(row["fills"]),  # type: ignore[call-overload]
                a_interval=(a_low, a_high),
                k_interval=(k_low, k_high),
                notes=tuple(str(n) for n in row.get("notes", ())),  # type: ignore[attr-defined]
                mu=float(row.get("mu_spreads_per_sec", 0.0)),  # type: ignore[arg-type]  # older files: none
            )
        except (KeyError, TypeError, ValueError) as bad:
            raise MakerfirstError(
                f"{where}: not a fill curve ({bad}); write it with `makerfirst calibrate`"
            ) from bad


@dataclass(frozen=True, slots=True)
class GlftParams:
    """``a_per_sec``: fills per second of an ask at the mid; ``k``: per unit of distance; ``sigma``:
    mid volatility, units per √s; ``gamma``: risk aversion (chosen, not estimated); ``b``: the
    terminal cost per lot, units; ``mu``: mid drift, units per second."""

    a_per_sec: float
    k: float
    sigma: float
    gamma: float
    b: float
    mu: float = 0.0

    def __post_init__(self) -> None:
        if not (self.a_per_sec > 0 and self.k > 0 and self.gamma > 0 and self.sigma >= 0):
            raise ValueError("GLFT needs A > 0, k > 0, gamma > 0 and sigma >= 0")

    @property
    def alpha(self) -> float:
        return 0.5 * self.k * self.gamma * self.sigma**2

    @property
    def beta(self) -> float:
        return self.k * self.mu

    @property
    def eta(self) -> float:
        return float(self.a_per_sec * (1 + self.gamma / self.k) ** (-(1 + self.k / self.gamma)))

    @property
    def premium(self) -> float:
        """``(1/γ)·ln(1 + γ/k)``: the part of δ* that does not depend on the state."""
        return math.log1p(self.gamma / self.k) / self.gamma


def w_vector(params: GlftParams, q_max: int, tau: float) -> npt.NDArray[np.float64]:
    """``w_0 .. w_{q_max}`` at ``tau`` seconds before the deadline (the matrix-exponential solution);
    may under- or overflow for extreme ``k·b`` (``optimal_distance`` rescales)."""
    scale, u = _scaled_w(params, q_max, tau)
    w: npt.NDArray[np.float64] = np.exp(scale * np.arange(q_max + 1)) * u
    return w


def _scaled_w(params: GlftParams, q_max: int, tau: float) -> tuple[float, npt.NDArray[np.float64]]:
    """``(L, u)`` with ``w_q = e^(qL)·u_q``: the same linear system for ``u`` with ``η·e^(−L)`` off the
    diagonal and ``u_q(T) = e^(−q(kb + L))``; ``L = max(−kb, ln η)`` keeps both at most 1, so
    neither a large ``k·b`` (a wide give-up cost) nor a small ``A`` leaves floating point."""
    if q_max < 0 or tau < 0:
        raise ValueError("q_max and tau must be non-negative")
    kb = params.k * params.b
    scale = max(-kb, math.log(params.eta))
    q = np.arange(q_max + 1, dtype=np.float64)
    m = np.diag(params.alpha * q**2 - params.beta * q)
    m[np.arange(1, q_max + 1), np.arange(q_max)] = -params.eta * math.exp(-scale)
    v = np.exp(-(kb + scale) * q)
    return scale, _expm(-m * tau) @ v


def optimal_distance(params: GlftParams, q: int, tau: float) -> float:
    """δ*(τ, q): the optimal ask's distance from the mid with ``q >= 1`` lots left, ``tau`` s to go.
    Where even the rescaled solution vanishes (τ → 0 with a huge give-up cost) it is the limit
    ``−b + (1/γ)·ln(1 + γ/k)``: give up."""
    if q < 1:
        raise ValueError("q must be at least one lot")
    scale, u = _scaled_w(params, q, tau)
    if not (u[q] > 0 and u[q - 1] > 0 and math.isfinite(u[q]) and math.isfinite(u[q - 1])):
        return -params.b + params.premium
    return (scale + math.log(u[q] / u[q - 1])) / params.k + params.premium


def single_lot_distance(params: GlftParams, tau: float) -> float:
    """The exact δ*(τ, 1) for μ = 0: ``w_1(τ) = η/α + (e^(−kb) − η/α)·e^(−ατ)`` (σ = 0: ``e^(−kb) + ητ``),
    evaluated in logarithms."""
    alpha = params.alpha
    # The same w_1, written as e^(−kb)·e^(−ατ) + η·(1 − e^(−ατ))/α to avoid cancelling large terms.
    relax = -math.expm1(-alpha * tau) / alpha if alpha > 0 else tau
    terms = [-params.k * params.b - alpha * tau]
    if relax > 0 and params.eta > 0:  # in logs apart: a subnormal τ would underflow the product to 0
        terms.append(math.log(params.eta) + math.log(relax))
    top = max(terms)
    log_w1 = top + math.log(sum(math.exp(t - top) for t in terms))
    return log_w1 / params.k + params.premium


def no_risk_distance(params: GlftParams, q: int, tau: float) -> float:
    """δ* with σ = μ = 0, from ``w_q(τ) = Σ_j η^j τ^j / j! · e^(−kb(q−j))``."""

    def w(n: int) -> float:
        return sum(
            params.eta**j * tau**j / math.factorial(j) * math.exp(-params.k * params.b * (n - j))
            for j in range(n + 1)
        )

    return math.log(w(q) / w(q - 1)) / params.k + params.premium


def asymptotic_distance(params: GlftParams, q: int) -> float:
    """The long-horizon δ*_∞(q) = (1/k)·ln[A / ((1 + γ/k)(½kγσ²q² − kμq))] (needs σ > 0)."""
    running = params.alpha * q**2 - params.beta * q
    if running <= 0:
        raise ValueError("the long-horizon quote needs a positive inventory penalty (sigma > 0)")
    return math.log(params.a_per_sec / ((1 + params.gamma / params.k) * running)) / params.k


def _expm(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The matrix exponential by scaling and squaring a Taylor series (our matrices are small,
    triangular and with a non-positive diagonal, where this is accurate to machine precision)."""
    norm = float(np.abs(a).sum(axis=1).max()) if a.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    scaled = a / 2.0**squarings
    result = np.eye(a.shape[0])
    term = np.eye(a.shape[0])
    for n in range(1, _TAYLOR_TERMS):
        term = term @ scaled / n
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result
