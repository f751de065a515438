"""Reference policies, all run through the same loop (``TwapLoop`` with a ``SellPolicy``) and engine.

A :class:`PolicySpec` names a :mod:`~makerfirst.algorithms.sell_policies` class (its ``kind``)
plus ``--set``-style overrides of the shipped policy, so a policy is data: picklable for sweeps,
printable in reports. The references (PRODUCT.md), then the two that try to beat the design note
(issue 13; by name only, not in the default set):

* ``market_sell``: one limit IOC for everything at a wide cap (10 %, the policy's maximum): the
  immediate market sell, through the loop, so it pays the entry latency like everyone else.
* ``fixed_ttl``: the old loop the design note fixed: post-only slices with a fixed 6 s TTL, no
  taker fallback, re-placed until the deadline (it never gives up on its own before then).
* ``design_note``: the shipped ``policy.yaml`` as it is: 25 s / 20 s purge TTLs, two attempts,
  then one limit IOC capped at 1 % for remainders under $50.
* ``freqtrade``: a Freqtrade-like exit: a limit order at the current best ask with an unfilled
  timeout (30 s), re-placed at the new ask after each timeout, and after two timeouts an
  emergency market exit (IOC at the wide cap). It reads its timeout from
  ``purge_execution.maker_first_ttl_sec``, its timeout count from ``max_consecutive_no_fill`` and
  its exit cap from ``taker_max_slippage_bps``, so a sweep can vary them the same way.
* ``tob``: the design note's policy as it is, each maker attempt re-placed (cancel, confirmed
  terminal, new order) whenever it is no longer the best ask, at most 6 times per attempt and
  never before it has rested 2 s (``algorithms.tob``).
* ``glft``: maker quotes at the distance the GLFT liquidation solution gives for the lots and the
  time left to the deadline, from each product's fill curve (``with_curves``: measured on the
  calibration part of the capture and on its fitted market), tracking the top of the book; when
  the model wants to cross, the design note's guarded taker exactly as it is
  (``algorithms.glft_policy``).

Every policy sells with ``Purpose.PURGE`` and is shown the episode's deadline (``PolicyView``);
the episode runner also cancels it when the deadline or the end of the data comes
(``backtest.run_episode``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft
from makerfirst.algorithms.sell_policies import (
    DesignNote,
    FixedTtl,
    LimitThenMarket,
    MarketSell,
    SellPolicy,
    TopOfBook,
)
from makerfirst.clock import Clock
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import plain
from makerfirst.execution.engine import ExecutionEngine
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.execution.loop_events import LoopEvent, log_event
from makerfirst.execution.twap_loop import TwapLoop
from makerfirst.policy import Policy, load_policy
from makerfirst.ports import ExchangePort

_PURGE = "portfolio_management.purge_execution"
WIDE_CAP_BPS = 1000  # the policy's largest allowed taker slippage: as close to a market order as we go


class PolicyKind(StrEnum):
    MARKET_SELL = "market_sell"  # one IOC for everything
    FIXED_TTL = "fixed_ttl"  # the old loop: one TTL forever, never a taker
    DESIGN_NOTE = "design_note"  # the design note's TTL ladder and taker fallback
    LIMIT_THEN_MARKET = "limit_then_market"  # Freqtrade-like
    TOP_OF_BOOK = "tob"  # the design note's loop, each maker attempt tracking the top of the book
    GLFT = "glft"  # maker quotes at the GLFT optimal-liquidation distance, the design note's taker at the end


_POLICY_CLASSES: dict[PolicyKind, type[SellPolicy]] = {
    PolicyKind.MARKET_SELL: MarketSell,
    PolicyKind.FIXED_TTL: FixedTtl,
    PolicyKind.DESIGN_NOTE: DesignNote,
    PolicyKind.LIMIT_THEN_MARKET: LimitThenMarket,
    PolicyKind.TOP_OF_BOOK: TopOfBook,
}


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A named policy: the loop ``kind`` and the overrides applied to the shipped policy."""

    name: str
    kind: PolicyKind
    overrides: tuple[str, ...] = ()
    custom: type[SellPolicy] | None = None  # another policy class, run instead of ``kind``'s
    curves: tuple[FillCurve, ...] = ()  # ``glft``: the products' fill curves (``with_curves``)

    def with_overrides(self, extra: tuple[str, ...], name: str | None = None) -> PolicySpec:
        return replace(self, name=name or self.name, overrides=self.overrides + extra)


REFERENCE_POLICIES: dict[str, PolicySpec] = {
    spec.name: spec
    for spec in (
        PolicySpec(
            "market_sell", PolicyKind.MARKET_SELL, (f"{_PURGE}.taker_max_slippage_bps={WIDE_CAP_BPS}",)
        ),
        PolicySpec(
            "fixed_ttl",
            PolicyKind.FIXED_TTL,
            # Its one TTL, and slices enough to outlast any deadline (it never takes: FixedTtl).
            (f"{_PURGE}.maker_first_ttl_sec=6", f"{_PURGE}.max_slices=1000"),
        ),
        PolicySpec("design_note", PolicyKind.DESIGN_NOTE),
        PolicySpec(
            "freqtrade",
            PolicyKind.LIMIT_THEN_MARKET,
            (
                f"{_PURGE}.maker_first_ttl_sec=30",
                f"{_PURGE}.max_consecutive_no_fill=2",
                f"{_PURGE}.taker_max_slippage_bps={WIDE_CAP_BPS}",
            ),
        ),
    )
}


# The references plus the policies that try to beat the design note (issue 13), by name; the
# backtest's default set stays the references.
SELL_POLICIES: dict[str, PolicySpec] = {
    **REFERENCE_POLICIES,
    "tob": PolicySpec("tob", PolicyKind.TOP_OF_BOOK),
    "glft": PolicySpec("glft", PolicyKind.GLFT),
}


def parse_policies(names: str) -> tuple[PolicySpec, ...]:
    """``"a,b,c"`` → the policies of those names (``SELL_POLICIES``), in that order. A variant
    ``name[KEY=VALUE;KEY=VALUE]`` is that policy with policy overrides, named as written, so that
    e.g. two risk aversions of ``glft`` are compared paired with the design note in one backtest."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    specs: list[PolicySpec] = []
    unknown: list[str] = []
    for written in chosen:
        base, _, rest = written.partition("[")
        if base not in SELL_POLICIES:
            unknown.append(written)
            continue
        if not rest:
            specs.append(SELL_POLICIES[base])
            continue
        specs.append(SELL_POLICIES[base].with_overrides(_variant_overrides(written, rest), name=written))
    if unknown or not chosen:
        raise MakerfirstError(
            f"unknown policies {', '.join(unknown) or '(none given)'}; choose from {', '.join(SELL_POLICIES)}"
        )
    return tuple(specs)


def _variant_overrides(written: str, rest: str) -> tuple[str, ...]:
    overrides = tuple(o.strip() for o in rest.removesuffix("]").split(";") if o.strip())
    if not rest.endswith("]") or not overrides or any("=" not in o for o in overrides):
        raise MakerfirstError(
            f"policy {written!r}: write a variant as NAME[KEY=VALUE;KEY=VALUE],"
            " e.g. glft[portfolio_management.purge_execution.glft.gamma=1]"
        )
    load_policy(None, list(overrides))  # a wrong key or value fails here, naming its dotted path
    return overrides


def with_curves(specs: Sequence[PolicySpec], curves: Mapping[str, FillCurve]) -> tuple[PolicySpec, ...]:
    """``specs`` with the products' fill curves given to the ones that quote from them (``glft``)."""
    chosen = tuple(curves.values())
    return tuple(replace(s, curves=chosen) if s.kind is PolicyKind.GLFT else s for s in specs)


def make_policy(spec: PolicySpec) -> SellPolicy:
    """The policy object ``spec`` names; a ``glft`` spec needs its curves (``with_curves``)."""
    if spec.custom is not None:
        return spec.custom()
    if spec.kind is PolicyKind.GLFT:
        if not spec.curves:
            raise MakerfirstError(f"policy {spec.name}: no fill curves; fit them first (with_curves)")
        return Glft({c.product_id: c for c in spec.curves})
    return _POLICY_CLASSES[spec.kind]()


@lru_cache(maxsize=256)
def resolve_policy(overrides: tuple[str, ...], usd_per_quote: Decimal = Decimal(1)) -> Policy:
    """The shipped policy with ``overrides``, its USD amounts restated in the product's quote currency.

    The engine compares its ``*_usd`` keys with quote notionals; for a product quoted in BTC or EUR
    they are divided by ``usd_per_quote`` so the same policy means the same dollars everywhere.
    """
    policy = load_policy(None, list(overrides))
    if usd_per_quote == 1:
        return policy
    purge = policy.portfolio_management.purge_execution
    scaled = {
        f"{_PURGE}.taker_fallback_threshold_usd": purge.taker_fallback_threshold_usd,
        "execution.max_slice_usd": policy.execution.max_slice_usd,
        "guards.min_depth_usd": policy.guards.min_depth_usd,
    }
    restated = [f"{key}={plain(value / usd_per_quote)}" for key, value in scaled.items()]
    return load_policy(None, [*overrides, *restated])


async def run_policy(
    spec: PolicySpec,
    policy: Policy,
    exchange: ExchangePort,
    clock: Clock,
    *,
    product_id: str,
    size: Decimal,
    seed: int = 0,
    deadline: float | None = None,
    on_event: Callable[[LoopEvent], None] = log_event,
) -> str:
    """Sell ``size`` (base) of ``product_id`` with ``spec``'s policy (shown ``deadline``); return how
    the loop ended. ``on_event``: the loop's event sink (default: the log)."""
    engine = ExecutionEngine(exchange, clock, policy, ids=ClientOrderIds(seed))
    loop = TwapLoop(engine, exchange, clock, policy=make_policy(spec), on_event=on_event)
    report = await loop.run(TradeIntent(product_id, SizeBase(size), Purpose.PURGE), deadline=deadline)
    return report.outcome.value
