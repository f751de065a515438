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
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from makerfirst.domain.errors import MakerfirstError

_TAYLOR_TERMS = 24
# Under this many ticks of spread the grid's points (eighths of the spread inside it) share ticks,
# and the same point sits inside the spread on one book and at the ask on another: the grid is
# then measured and quoted per spread (``FillCurve.narrow_grids``).
NARROW_SPREAD_TICKS = 8


@dataclass(frozen=True, slots=True)
class GridRate:
    """The virtual asks placed ``nominal`` spreads from the mid (the grid point; inside the spread
    clamped to bid + 1 tick): their exposure-weighted mean ``distance`` (spreads), fills, exposure (s)."""

    nominal: float
    distance: float
    fills: float
    exposure_sec: float

    def as_json(self) -> list[float]:
        return [self.nominal, round(self.distance, 6), round(self.fills, 6), round(self.exposure_sec, 3)]


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
    grid: tuple[GridRate, ...] = ()  # the measured rates on the grid (inside the spread too)
    # the grid measured apart on books of each spread (ticks) under NARROW_SPREAD_TICKS
    narrow_grids: tuple[tuple[int, tuple[GridRate, ...]], ...] = ()

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
            "grid_nominal_distance_fills_exposure": [g.as_json() for g in self.grid],
            "grid_by_spread_ticks": {str(t): [g.as_json() for g in grid] for t, grid in self.narrow_grids},
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
                grid=tuple(
                    GridRate(*(float(v) for v in g))
                    for g in row.get("grid_nominal_distance_fills_exposure", ())  # type: ignore[attr-defined]
                ),
                narrow_grids=tuple(
                    (int(ticks), tuple(GridRate(*(float(v) for v in g)) for g in grid))
                    for ticks, grid in row.get("grid_by_spread_ticks", {}).items()  # type: ignore[attr-defined]
                ),
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


GRID_SHRINK_SEC = 60.0  # pseudo-exposure per grid point at the fitted exponential's rate
TOUCH_SPREADS = 0.5  # the ask of a one-tick book, where the exponential's measurement starts
GRID_STEP_SEC = 0.25  # the backward recursion's time step (at most GRID_STEPS of them)
GRID_STEPS = 400


@dataclass(frozen=True, slots=True)
class GridQuote:
    """The grid solution at one state: the grid point to quote (``nominal``, spreads from the mid,
    mapped to the book like the measurement), its mean measured ``distance`` and rate, and
    ``give_up``: the taker now is worth more than holding the lot (the model wants to cross)."""

    nominal: float
    distance: float
    rate_per_sec: float
    give_up: bool


def grid_price(bid: int, ask: int, distance: float) -> int:
    """The ask (ticks) at ``distance`` spreads from the mid: rounded up, never at or below the bid.
    The virtual asks of the measured grid are placed by it and the grid quotes map back by it."""
    return max(bid + 1, math.ceil((bid + ask) / 2 + distance * (ask - bid) - 1e-9))


def smoothed_grid_rates(
    curve: FillCurve, shrink_sec: float = GRID_SHRINK_SEC, *, spread_ticks: int | None = None
) -> list[tuple[GridRate, float]]:
    """Each grid point with its fill rate: the measured one shrunk toward the fitted exponential
    (``shrink_sec`` of pseudo-exposure at ``A·e^(−kδ)``: thin data fall back to the curve), then made
    non-increasing in the distance (weighted pool-adjacent-violators: a farther ask never fills more).

    ``spread_ticks``: the book's spread. Under ``NARROW_SPREAD_TICKS``, where the curve measured
    books of that spread apart, a point at or inside the ask takes that measurement (shrunk by
    ``shrink_sec`` toward the pooled grid's rate at the point): there the tick decides whether a
    point is the best ask or in the queue at it. Farther points keep the pooled rate (those books'
    own fills out there are too few to say more); every point takes its distance on such a book."""
    points = sorted(curve.grid, key=lambda g: g.distance)
    # The exponential is fitted from the touch outward; inside the spread its prior is the touch's
    # rate, not the curve extrapolated inward (on a steep curve, NMR-EUR's k = 10 per spread, that
    # said 1,260 fills/s at bid + 1 tick, and the model held the ask to the last seconds, sure of
    # getting out at bid + 1 whenever it liked: the measured 0.37/s did not).
    rates = [
        (g.fills + shrink_sec * curve.intensity(max(g.distance, TOUCH_SPREADS)))
        / (g.exposure_sec + shrink_sec)
        for g in points
    ]
    weights = [g.exposure_sec + shrink_sec for g in points]
    narrow = dict(curve.narrow_grids).get(spread_ticks, ()) if spread_ticks is not None else ()
    if spread_ticks is None or not narrow:
        return list(zip(points, _non_increasing(rates, weights), strict=True))
    own = {g.nominal: g for g in narrow}
    rows = []
    for g, pooled, weight in zip(points, _non_increasing(rates, weights), weights, strict=True):
        seen = own.get(g.nominal)
        if seen is None:
            rows.append((g, pooled, weight))
        elif grid_price(0, spread_ticks, g.nominal) <= spread_ticks:
            rate = (seen.fills + shrink_sec * pooled) / (seen.exposure_sec + shrink_sec)
            rows.append((seen, rate, seen.exposure_sec + shrink_sec))
        else:
            rows.append((replace(g, distance=seen.distance), pooled, weight))
    rows.sort(key=lambda row: row[0].distance)
    smooth = _non_increasing([r for _, r, _ in rows], [w for _, _, w in rows])
    return [(g, r) for (g, _, _), r in zip(rows, smooth, strict=True)]


def _non_increasing(rates: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The weighted least-squares non-increasing fit of ``rates`` (pool-adjacent-violators)."""
    blocks: list[list[float]] = []  # [rate, weight, count]
    for r, w in zip(rates, weights, strict=True):
        blocks.append([r, w, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            r2, w2, n2 = blocks.pop()
            r1, w1, n1 = blocks.pop()
            blocks.append([(r1 * w1 + r2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return [b[0] for b in blocks for _ in range(int(b[2]))]


def solve_grid(
    rates: Sequence[tuple[float, float]],
    *,
    gamma: float,
    sigma: float,
    mu: float,
    b: float,
    q: int,
    tau: float,
    step: float = GRID_STEP_SEC,
) -> tuple[int, bool]:
    """The liquidation problem on a discrete set of quotes ``rates`` = [(δ_j, Λ_j)] (spreads, per s):
    the certainty equivalent θ_q(τ) of ``q`` lots (spreads, from the mid) solves, backward from
    ``θ_q(0) = −q·b``,

        ∂θ_q/∂τ = max_j (Λ_j/γ)·(1 − e^(−γ(δ_j + θ_{q−1} − θ_q))) + μq − ½γσ²q²,

    the GLFT equation with the tabulated Λ in place of the exponential (with ``Λ = A·e^(−kδ)`` on a
    fine grid it gives the closed form's quote), and the option to give a lot up to the taker at
    any time (θ_q ≥ θ_{q−1} − b). Returns the best quote's index for the ``q``-th lot at ``tau`` and
    whether giving up is better (explicit Euler, ``step`` s or τ/``GRID_STEPS``, each step's gain
    capped at the quote's margin: stable however fast a quote at the touch fills)."""
    if q < 1 or tau < 0 or not rates:
        raise ValueError("the grid needs q >= 1, tau >= 0 and at least one quote")
    delta = np.array([d for d, _ in rates])
    lam = np.array([r for _, r in rates])
    lots = np.arange(q + 1, dtype=np.float64)
    running = mu * lots - 0.5 * gamma * sigma**2 * lots**2
    theta = -b * lots
    steps = min(GRID_STEPS, max(1, math.ceil(tau / step))) if tau > 0 else 0
    dt = tau / steps if steps else 0.0
    for _ in range(steps):
        margin = delta[None, :] + theta[:-1, None] - theta[1:, None]  # lots 1..q × quotes
        gain = (lam / gamma) * -np.expm1(np.minimum(-gamma * margin, 700.0))
        # A lot is never worth more than the price it sells at: over one step a quote lifts θ_q at
        # most by its margin (where Λ·dt > 1, on a steep curve at the touch, explicit Euler would
        # overshoot, every margin turn negative and the farthest, never-filled quote win).
        step_gain = np.minimum(dt * gain, np.maximum(margin, 0.0))
        theta = theta + np.concatenate(([0.0], step_gain.max(axis=1))) + dt * running
        theta[0] = 0.0
        theta = np.maximum.accumulate(theta + b * lots) - b * lots  # θ_q ≥ θ_{q−1} − b
    margin = delta + theta[q - 1] - theta[q]
    gain = (lam / gamma) * -np.expm1(-gamma * margin)
    give_up = theta[q] - theta[q - 1] <= -b + 1e-12
    return int(np.argmax(gain)), bool(give_up)


def grid_quote(
    curve: FillCurve,
    *,
    gamma: float,
    b: float,
    q: int,
    tau: float,
    mu: float,
    spread_ticks: int | None = None,
) -> GridQuote | None:
    """:func:`solve_grid` on ``curve``'s smoothed grid for a book of ``spread_ticks`` (None: the
    grid pooled over spreads; the result None: the curve has no grid)."""
    points = smoothed_grid_rates(curve, spread_ticks=spread_ticks)
    if not points:
        return None
    j, give_up = solve_grid(
        [(g.distance, r) for g, r in points], gamma=gamma, sigma=curve.sigma, mu=mu, b=b, q=q, tau=tau
    )
    point, rate = points[j]
    return GridQuote(point.nominal, point.distance, rate, give_up)


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
