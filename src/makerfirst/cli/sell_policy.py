"""Which sell policy a one-off simulation runs: the design note's (default), ``tob`` or ``glft``.

``glft`` quotes from a fill curve: the product's curve from a ``makerfirst calibrate`` file
(``--curves``), or else one measured on the same synthetic market preset, on a measuring run of its
own seed (never the run being simulated), and said so in the transcript.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft
from makerfirst.algorithms.sell_policies import DesignNote, SellPolicy, TopOfBook
from makerfirst.bootstrap import PRESETS
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.product import Product
from makerfirst.replay.estimates import load_curves
from makerfirst.replay.events import ProductScale
from makerfirst.replay.fill_curve import fit_curves, measure_market

log = logging.getLogger("makerfirst.twap")

SELL_POLICY_NAMES = ("design_note", "tob", "glft")


def split_policy_option(value: str | None) -> tuple[str, Path | None]:
    """``--policy`` names a sell policy (design_note, tob, glft) or a policy YAML file."""
    if value is None:
        return "design_note", None
    if value in SELL_POLICY_NAMES and not Path(value).exists():
        return value, None
    return "design_note", Path(value)


def sell_policy(
    name: str, *, product: Product, market: str, start_price: Decimal, seed: int, curves: Path | None
) -> SellPolicy:
    if name == "tob":
        return TopOfBook()
    if name != "glft":
        return DesignNote()
    return Glft({product.product_id: _curve(product, market, start_price, seed, curves)})


def _curve(product: Product, market: str, start_price: Decimal, seed: int, path: Path | None) -> FillCurve:
    if path is not None:
        saved = load_curves(path)
        curve = saved.curves.get(product.product_id)
        if curve is None:
            known = ", ".join(sorted(saved.curves)) or "none"
            raise MakerfirstError(f"{path}: no fill curve for {product.product_id} (it has: {known})")
        log.info(
            "GLFT fill curve of %s from %s (measured %s on %s)",
            product.product_id,
            path,
            saved.measured_at,
            saved.data,
            extra={"event": "glft_curve", "product_id": product.product_id},
        )
        return curve
    params = PRESETS.get(market)
    if params is None:
        raise MakerfirstError(f"unknown market {market!r}; choose one of: {', '.join(PRESETS)}")
    scale = ProductScale(product.product_id, product.price_increment, product.base_increment)
    curve = fit_curves({product.product_id: [measure_market(scale, params, start_price, seed=seed)]})[
        product.product_id
    ]
    log.info(
        "GLFT fill curve measured on the %s market: A=%.4g/s, k=%.3g per spread, σ=%.3g spreads/√s"
        " (%d fills of %d virtual asks)",
        market,
        curve.a_per_sec,
        curve.k,
        curve.sigma,
        curve.fills,
        curve.orders,
        extra={"event": "glft_curve", "product_id": product.product_id},
    )
    return curve
