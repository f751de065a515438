"""Fill curves for a backtest's products, measured where the policies may look: the calibration part
of each capture (never the part the policies are judged on alone) and each fitted or preset market
(run on a seed no episode uses), read by the same virtual-order code (``fill_curve``, imported
only when a ``glft`` policy runs: a backtest of the other policies does not load it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from makerfirst.algorithms.glft import FillCurve
from makerfirst.replay.backtest import (
    BacktestConfig,
    BacktestPlan,
    BacktestResult,
    ReplayVenue,
    SyntheticVenue,
    summarize_results,
)
from makerfirst.replay.episodes import Window, split_window
from makerfirst.replay.events import ProductScale
from makerfirst.replay.policies import PolicyKind, PolicySpec, with_curves

if TYPE_CHECKING:
    from makerfirst.replay.fill_curve import ObservedRate, TapeSample


def plan_samples(plan: BacktestPlan, config: BacktestConfig) -> dict[str, list[TapeSample]]:
    """Each product's virtual orders: on its capture's calibration window, on its fitted market."""
    from makerfirst.replay.fill_curve import measure_market, sample_tape  # noqa: PLC0415 - glft only

    samples: dict[str, list[TapeSample]] = {}
    for (_, product_id), venue in plan.venues.items():
        if isinstance(venue, ReplayVenue):
            tape = venue.tape
            window, _ = split_window(Window(tape.start, tape.end), config.calibration_share)
            samples.setdefault(product_id, []).append(sample_tape(tape, window))
        elif isinstance(venue, SyntheticVenue):
            product = venue.product
            scale = ProductScale(product_id, product.price_increment, product.base_increment)
            measured = measure_market(scale, venue.params, venue.start_price, seed=config.seed)
            samples.setdefault(product_id, []).append(measured)
    return samples


@dataclass(frozen=True, slots=True)
class CurveEvidence:
    """A product's fitted curve beside the fill frequencies observed at each distance (the report's
    per-product section)."""

    curve: FillCurve
    observed: tuple[ObservedRate, ...]


def curve_evidence(
    curves: Mapping[str, FillCurve], samples: Mapping[str, Sequence[TapeSample]]
) -> tuple[CurveEvidence, ...]:
    from makerfirst.replay.fill_curve import TapeSample, observed_rates  # noqa: PLC0415 - glft only

    out = []
    for product_id, curve in curves.items():
        merged = TapeSample(product_id)
        for part in samples.get(product_id, ()):
            merged += part
        out.append(CurveEvidence(curve, tuple(observed_rates(merged))))
    return tuple(out)


def with_plan_curves(
    specs: Sequence[PolicySpec], plan: BacktestPlan, config: BacktestConfig
) -> tuple[PolicySpec, ...]:
    """``specs``, the ``glft`` ones given the plan's curves (measured only when one is there)."""
    return fitted_specs(specs, plan, config)[0]


def fitted_specs(
    specs: Sequence[PolicySpec], plan: BacktestPlan, config: BacktestConfig
) -> tuple[tuple[PolicySpec, ...], tuple[CurveEvidence, ...]]:
    """``with_plan_curves`` and the evidence the curves were fitted on (empty without a ``glft``)."""
    if not any(s.kind is PolicyKind.GLFT for s in specs):
        return tuple(specs), ()
    from makerfirst.replay.fill_curve import fit_curves  # noqa: PLC0415 - glft only

    samples = plan_samples(plan, config)
    curves = fit_curves(samples)
    return with_curves(specs, curves), curve_evidence(curves, samples)


def by_product_json(result: BacktestResult, config: BacktestConfig) -> dict[str, list[dict[str, object]]]:
    """Every policy's metrics per product (each mode apart), paired with the design note on the same
    product's episodes: the per-product verdicts the targets ask for."""
    names = [p.name for p in config.policies]
    out: dict[str, list[dict[str, object]]] = {}
    for product_id in sorted({r.product_id for r in result.results}):
        mine = [r for r in result.results if r.product_id == product_id]
        out[product_id] = [m.as_json() for m in summarize_results(mine, names, seed=config.seed)]
    return out


def curves_json(specs: Sequence[PolicySpec]) -> dict[str, object]:
    """The fill curves the ``glft`` policies quoted from (empty when none ran)."""
    curves = next((s.curves for s in specs if s.kind is PolicyKind.GLFT and s.curves), ())
    return {"fill_curves": [c.as_json() for c in curves]} if curves else {}
