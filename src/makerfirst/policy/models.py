"""The policy as typed, frozen models: one model per section of ``config/policy.yaml``.

Contracts:

* Field names are the YAML keys, and every default is the shipped file's value, so
  ``Policy()`` equals the shipped policy.
* Unknown keys are refused (``extra="forbid"``): a misspelt key must never fall back to a
  default silently.
* Counts, ticks, seconds and basis points are ints: ``true``, ``"5"`` and ``2.5`` are
  refused; a whole float such as ``15.0`` is accepted as ``15``.
* USD amounts and the poll interval are exact ``Decimal``; a YAML float becomes
  ``Decimal(str(value))``, so ``0.1`` is ``Decimal("0.1")``, never the binary float's expansion.
* Flags are strict bools: only ``true``/``false``.
* Orderings between fields are checked on the later field of each pair, so the error
  names a concrete key (see :func:`_at_most` and :func:`_at_least`).
* Every rule the run relies on lives here, so ``config validate`` fails wherever ``run`` would:
  the portfolio's own checks (``portfolio/*.__post_init__``) can never fire on a loaded policy.
  Rules between keys that are not one ordering are :func:`_rule` errors naming the key to change.

A new section is a new ``_Section`` subclass plus one field on :class:`Policy` (or on the
section that holds it); the loader's error messages derive from the models and need no change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _whole_float_to_int(value: object) -> object:
    """Accept ``15.0`` as ``15``; anything else is left for the strict int check to judge."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _float_to_exact_decimal(value: object) -> object:
    """Turn a float into the Decimal of its shortest repr, so YAML's ``0.1`` is exactly ``0.1``."""
    if isinstance(value, float):
        return Decimal(str(value))
    return value


WholeNumber = Annotated[int, Strict(), BeforeValidator(_whole_float_to_int)]
"""An int that refuses bools, strings and floats with a fractional part."""

TtlSeconds = Annotated[WholeNumber, Field(ge=1, le=3600)]
"""A maker order's time to live, in whole seconds."""

ExactDecimal = Annotated[Decimal, BeforeValidator(_float_to_exact_decimal)]
"""A finite Decimal; floats are converted through ``str`` (pydantic itself refuses bools and NaN)."""

Flag = Annotated[bool, Strict()]
"""Only ``true`` or ``false``: ``"yes"``, ``1`` and ``"true"`` are refused."""


def _at_most(value: int, limit_field: str, info: ValidationInfo) -> int:
    """Refuse ``value`` above the already validated ``limit_field`` (absent when that field was invalid)."""
    limit = info.data.get(limit_field)
    if isinstance(limit, int) and value > limit:
        raise PydanticCustomError(
            "above_field",
            "must not exceed {field}, which is {value}",
            {"field": limit_field, "value": limit, "le": limit},
        )
    return value


def _rule(problem: str, fix: str, key: str = "") -> PydanticCustomError:
    """A broken rule between keys. ``key`` (dotted, below where the validator runs) is the key to
    change; the loader appends it to the error's path. ``problem`` says what is wrong, ``fix`` what to do."""
    return PydanticCustomError(
        "policy_rule", "{problem}; {fix}", {"problem": problem, "fix": fix, "key": key}
    )


def _duplicates(assets: tuple[str, ...]) -> list[str]:
    return sorted({asset for asset in assets if assets.count(asset) > 1})


def _at_least(value: int, limit_field: str, info: ValidationInfo) -> int:
    """Refuse ``value`` below the already validated ``limit_field`` (absent when that field was invalid)."""
    limit = info.data.get(limit_field)
    if isinstance(limit, int) and value < limit:
        raise PydanticCustomError(
            "below_field",
            "must be at least {field}, which is {value}",
            {"field": limit_field, "value": limit, "ge": limit},
        )
    return value


class _Section(BaseModel):
    """Shared configuration of every policy model."""

    # validate_default: the defaults pass the same checks as the file, cross-field ones included,
    # so a section that sets only one side of an ordering is still checked against the other.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, defer_build=True)


# More than four checks a second per resting order and the checks alone spend the venue's request
# budget (Coinbase: 30 private requests a second for every order, cancel and balance together).
MIN_POLL_INTERVAL_SEC = Decimal("0.25")

# The first purge attempt gets the full time and retries a little less (the design note: 25 s, then
# 20 s). A retry may still rest longer than the first attempt, so the first TTL can be swept on its
# own against the default retry (5 s beside 20 s), but at most this many times as long: 3600 s
# beside 5 s is a slip of units, and would park a purge order for an hour.
MAX_RETRY_TO_FIRST_TTL = 4


class ExecutionPolicy(_Section):
    """Normal trading (T1/T2 liquid pairs): maker-first with a spread-based TTL."""

    maker_max_ttl_sec: TtlSeconds = Field(
        15, description="Seconds; the longest maker TTL (balanced for 60 s cycles)."
    )
    maker_first_min_ttl_sec: TtlSeconds = Field(
        12, description="Seconds; the shortest TTL of a first maker attempt (~2-3 book refreshes)."
    )
    maker_retry_min_ttl_sec: TtlSeconds = Field(
        8, description="Seconds; the shortest TTL of a maker retry (retries may be shorter)."
    )
    ttl_full_spread_bps: WholeNumber = Field(
        20, ge=1, le=10_000, description="Bps; a spread this wide (or wider) gets the full maker_max_ttl_sec."
    )
    cushion_ticks: WholeNumber = Field(
        1, ge=0, le=100, description="Ticks; a sell rests at best bid + cushion ticks (never crossing)."
    )
    max_cushion_ticks: WholeNumber = Field(
        3,
        ge=1,
        le=100,
        description="Ticks; the cushion widens one tick per post-only reject, never beyond this.",
    )
    max_maker_attempts: WholeNumber = Field(
        4,
        ge=1,
        le=100,
        description="Count; a normal sell gives up after this many maker attempts without a fill.",
    )
    max_slice_usd: ExactDecimal = Field(
        Decimal("1000"), gt=0, description="USD; the TWAP sells at most this much per slice."
    )
    gtd_grace_sec: WholeNumber = Field(
        5,
        ge=0,
        le=600,
        description="Seconds; maker orders are GTD at TTL + grace, so a crash never leaves one resting.",
    )
    order_poll_interval_sec: ExactDecimal = Field(
        Decimal("5.0"),
        ge=MIN_POLL_INTERVAL_SEC,
        le=60,
        description="Seconds; how often a resting order is checked before its TTL (at least 0.25).",
    )
    cancel_confirm_timeout_sec: WholeNumber = Field(
        10,
        ge=1,
        le=600,
        description="Seconds; how long to wait for a cancelled order to be confirmed terminal.",
    )

    @field_validator("maker_first_min_ttl_sec", "maker_retry_min_ttl_sec")
    @classmethod
    def _min_ttl_within_max(cls, value: int, info: ValidationInfo) -> int:
        return _at_most(value, "maker_max_ttl_sec", info)

    @field_validator("max_cushion_ticks")
    @classmethod
    def _max_cushion_covers_cushion(cls, value: int, info: ValidationInfo) -> int:
        return _at_least(value, "cushion_ticks", info)


class GuardsPolicy(_Section):
    """Guards in front of every order; the purge taker fallback bypasses all three."""

    max_spread_bps: WholeNumber = Field(
        500, ge=1, le=10_000, description="Bps; liquidity check: no order into a wider spread."
    )
    min_depth_usd: ExactDecimal = Field(
        Decimal("20"),
        ge=0,
        description="USD; liquidity check: quote notional needed on each side within the band.",
    )
    depth_band_bps: WholeNumber = Field(
        200,
        ge=1,
        le=10_000,
        description="Bps; liquidity check: the band around the mid that depth is measured in.",
    )
    slippage_budget_bps: WholeNumber = Field(
        50, ge=0, le=10_000, description="Bps; worst-case price of one order vs the mid at decision time."
    )
    failed_order_cooldown_sec: WholeNumber = Field(
        120, ge=0, le=86_400, description="Seconds; no new order on a product this long after one failed."
    )
    max_book_age_sec: ExactDecimal = Field(
        Decimal("5"),
        gt=0,
        le=3600,
        description="Seconds; liquidity check: no new order on a book last known current longer ago"
        " (a stale stream whose REST read failed too).",
    )


class TrackingPolicy(_Section):
    """Top-of-book tracking of a maker attempt (``sell_policy: tob`` and ``glft``)."""

    max_replaces: WholeNumber = Field(
        6, ge=0, le=100, description="Count; new orders per maker attempt after its first."
    )
    min_rest_sec: ExactDecimal = Field(
        Decimal("2"),
        ge=Decimal("0.5"),
        le=Decimal("600"),
        description="Seconds; an order rests at least this long before it is replaced (the rate limit).",
    )
    check_sec: ExactDecimal = Field(
        Decimal("1"),
        ge=MIN_POLL_INTERVAL_SEC,
        le=Decimal("600"),
        description="Seconds; how often the book is read while an attempt tracks the touch.",
    )


class GlftPolicy(_Section):
    """The GLFT quotes (``sell_policy: glft``): the knobs the fill curves do not measure."""

    gamma: ExactDecimal = Field(
        Decimal("1.5"),
        gt=0,
        le=Decimal("100"),
        description="Risk aversion per spread: higher quotes closer to the bid and gives up sooner.",
    )
    fee_gap_bps: WholeNumber = Field(
        60, ge=0, le=1000, description="Bps; taker minus maker fee, priced into the give-up cost."
    )
    requote_sec: TtlSeconds = Field(
        25, description="Seconds; one quote rests this long, then it is re-solved."
    )
    min_rest_sec: ExactDecimal = Field(
        Decimal("3"),
        gt=0,
        le=Decimal("600"),
        description="Seconds; with less time left a maker order cannot rest: the design note's end.",
    )
    taker_reserve_sec: ExactDecimal = Field(
        Decimal("1"),
        ge=0,
        le=Decimal("600"),
        description="Seconds; the last maker attempt ends this long before the deadline (for the taker).",
    )
    min_maker_sec: Annotated[WholeNumber, Field(ge=0, le=3600)] | None = Field(
        None,
        description="Seconds; no taker before a purge was a maker this long (null: maker_first_ttl_sec).",
    )
    chase_undercuts: bool = Field(
        True,
        description="Tracking re-places a quote another ask undercut (false: only toward a better price;"
        " the re-solve prices a market that moved away).",
    )
    quote_grid: bool = Field(
        True,
        description="Quote from the fill rates measured on a grid (inside the spread too), solved on it,"
        " not from the fitted exponential (false: the closed form).",
    )
    fair_price_sec: WholeNumber = Field(
        30,
        ge=0,
        le=600,
        description="Seconds; quote off the median touch of this window, untracked (0: off, the book's).",
    )


class PurgeExecutionPolicy(_Section):
    """Purge mode (T3 illiquid junk): maker slices with a guarded taker fallback.

    ``maker_ttl_sec`` is the purge TTL default: when the input gives it but omits
    ``maker_first_ttl_sec`` or ``maker_retry_ttl_sec``, those take its value. When it is
    omitted too, all three take their own defaults (25, 25, 20).
    """

    maker_ttl_sec: TtlSeconds = Field(
        25,
        description="Seconds; the purge maker TTL, and the default of the two below (longer for thin books).",
    )
    maker_first_ttl_sec: TtlSeconds = Field(25, description="Seconds; the first attempt gets the full time.")
    maker_retry_ttl_sec: TtlSeconds = Field(
        20, description="Seconds; the TTL of a purge retry (still generous)."
    )
    allow_taker_fallback: Flag = Field(True, description="Rollback switch 1: false = never a taker order.")
    taker_fallback_threshold_usd: ExactDecimal = Field(
        Decimal("50"),
        gt=0,
        description="USD; rollback switch 2: only positions under this get the taker (never: switch 1).",
    )
    taker_max_slippage_bps: WholeNumber = Field(
        100,
        ge=0,
        le=1000,
        description="Bps; rollback switch 3: the IOC never fills more than this through the touch.",
    )
    max_consecutive_no_fill: WholeNumber = Field(
        2, ge=1, le=100, description="Count; maker attempts without a fill before the taker fallback."
    )
    cushion_ticks: WholeNumber = Field(
        1, ge=0, le=100, description="Ticks; start with a minimal maker cushion."
    )
    max_cushion_ticks: WholeNumber = Field(
        3, ge=1, le=100, description="Ticks; the cushion is only widened after post-only rejects, up to this."
    )
    max_slices: WholeNumber = Field(
        20,
        ge=1,
        le=1000,
        description="Count; a purge stops after this many maker slices, whatever else happens.",
    )
    # Issue 13: how a purge's maker attempts are priced (the ladder, the guards and the one taker
    # order around them stay the design note's).
    sell_policy: Literal["design_note", "tob", "glft"] = Field(
        "design_note",
        description="design_note (the TTL ladder), tob (it, tracking the touch) or glft (GLFT quotes).",
    )
    fill_curves: str | None = Field(
        None, description="glft: the file `makerfirst calibrate --out` wrote (needed by glft)."
    )
    fill_curves_max_age_days: WholeNumber = Field(
        30, ge=1, le=3650, description="Days; curves measured on older data are used with a warning."
    )
    tracking: TrackingPolicy = Field(default_factory=TrackingPolicy, description="tob and glft: tracking.")
    glft: GlftPolicy = Field(default_factory=GlftPolicy, description="glft: the quotes' knobs.")

    @model_validator(mode="before")
    @classmethod
    def _inherit_maker_ttl(cls, data: object) -> object:
        # The raw value is copied, so an invalid maker_ttl_sec is reported on the keys that inherit it too.
        if isinstance(data, dict) and "maker_ttl_sec" in data:
            ttl = data["maker_ttl_sec"]
            return {"maker_first_ttl_sec": ttl, "maker_retry_ttl_sec": ttl, **data}
        return data

    @field_validator("max_cushion_ticks")
    @classmethod
    def _max_cushion_covers_cushion(cls, value: int, info: ValidationInfo) -> int:
        return _at_least(value, "cushion_ticks", info)

    @field_validator("maker_retry_ttl_sec")
    @classmethod
    def _retry_ttl_near_the_first(cls, value: int, info: ValidationInfo) -> int:
        first = info.data.get("maker_first_ttl_sec")
        if isinstance(first, int) and value > MAX_RETRY_TO_FIRST_TTL * first:
            limit = MAX_RETRY_TO_FIRST_TTL * first
            raise PydanticCustomError(
                "above_field",
                "must be at most {factor} x maker_first_ttl_sec, which is {first}",
                {"factor": MAX_RETRY_TO_FIRST_TTL, "first": first, "le": limit},
            )
        return value

    @model_validator(mode="after")
    def _no_fill_count_reachable(self) -> PurgeExecutionPolicy:
        if self.max_consecutive_no_fill > self.max_slices:
            raise _rule(
                f"{self.max_consecutive_no_fill} attempts without a fill can never happen within"
                f" max_slices={self.max_slices} (the purge ends its maker slices first)",
                f"lower it to at most {self.max_slices}, or raise max_slices",
                key="max_consecutive_no_fill",
            )
        return self

    @model_validator(mode="after")
    def _glft_has_its_curves(self) -> PurgeExecutionPolicy:
        if self.sell_policy == "glft" and not self.fill_curves:
            raise _rule(
                "sell_policy glft quotes from fill curves, and none are given",
                "set it to the file `makerfirst calibrate --out FILE` wrote (or run --fill-curves FILE)",
                key="fill_curves",
            )
        return self


Asset = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,10}$")]
Weight = Annotated[ExactDecimal, Field(ge=0, le=1)]


_LOOSER_IS_HIGHER = {"max_spread_bps": True, "min_depth_usd": False, "min_volume_24h_usd": False}


class TierThresholdsPolicy(_Section):
    """The thresholds a product must meet, all three, to hold a tier."""

    max_spread_bps: WholeNumber = Field(
        ..., ge=0, le=10_000, description="Bps of the mid; the widest spread."
    )
    min_depth_usd: ExactDecimal = Field(
        ..., ge=0, description="USD on the thinner side within the depth band."
    )
    min_volume_24h_usd: ExactDecimal = Field(..., ge=0, description="USD traded over the last 24 h.")


def _t1() -> TierThresholdsPolicy:
    return TierThresholdsPolicy(
        max_spread_bps=20, min_depth_usd=Decimal("10000"), min_volume_24h_usd=Decimal("5000000")
    )


def _t2() -> TierThresholdsPolicy:
    return TierThresholdsPolicy(
        max_spread_bps=100, min_depth_usd=Decimal("1000"), min_volume_24h_usd=Decimal("250000")
    )


class TiersPolicy(_Section):
    """Liquidity tiers: T1/T2 are traded normally, T3 is purged. Hysteresis keeps them from flapping."""

    depth_band_bps: WholeNumber = Field(200, ge=1, le=10_000, description="Bps; depth is measured within it.")
    t1: TierThresholdsPolicy = Field(default_factory=_t1, description="The most liquid tier.")
    t2: TierThresholdsPolicy = Field(default_factory=_t2, description="Liquid enough to trade normally.")
    upgrade_margin: Annotated[ExactDecimal, Field(ge=0, lt=1)] = Field(
        Decimal("0.2"),
        description="A better tier's thresholds must be beaten by this share to count (below 1: it"
        " scales the spread threshold down).",
    )
    upgrade_after_cycles: WholeNumber = Field(
        3, ge=1, le=1000, description="Cycles in a row before moving up."
    )
    downgrade_after_cycles: WholeNumber = Field(
        5, ge=1, le=1000, description="Cycles in a row before moving down."
    )
    overrides: dict[Asset, Literal["T1", "T2", "T3"]] = Field(
        default_factory=dict, description="Asset → forced tier, e.g. {BTC: T1}."
    )

    @field_validator("t2")
    @classmethod
    def _t2_at_least_as_loose_as_t1(
        cls, t2: TierThresholdsPolicy, info: ValidationInfo
    ) -> TierThresholdsPolicy:
        t1 = info.data.get("t1")
        if not isinstance(t1, TierThresholdsPolicy):
            return t2
        for key, looser_is_higher in _LOOSER_IS_HIGHER.items():
            mine, theirs = getattr(t2, key), getattr(t1, key)
            if (mine < theirs) if looser_is_higher else (mine > theirs):
                bound = "at least" if looser_is_higher else "at most"
                raise _rule(
                    f"is {mine}, stricter than t1's {theirs}: t2 must be at least as loose as t1 on"
                    " every threshold",
                    f"make it {bound} {theirs}, or change t1.{key}",
                    key=key,
                )
        return t2


class DriftBandPolicy(_Section):
    absolute: Weight = Field(Decimal("0.02"), description="Weight points an asset may drift from its target.")
    relative: Weight = Field(Decimal("0.25"), description="Or this share of its target, whichever is larger.")

    @model_validator(mode="after")
    def _some_width(self) -> DriftBandPolicy:
        if self.absolute == 0 and self.relative == 0:
            raise _rule(
                "absolute and relative are both 0: any drift at all is traded back, every cycle",
                "give the band a width, e.g. absolute: 0.02",
                key="absolute",
            )
        return self


class RebalancePolicy(_Section):
    """Target weights of the liquid part (T1/T2 holdings + quote); the quote takes the rest."""

    target_weights: dict[Asset, Weight] = Field(
        default_factory=dict, description="Asset → weight; the keys are the universe; sum at most 1."
    )
    drift_band: DriftBandPolicy = Field(default_factory=DriftBandPolicy, description="Allowed drift.")
    fee_reserve_fraction: Annotated[ExactDecimal, Field(ge=0, lt=1)] = Field(
        Decimal("0.01"), description="Share of the buy budget never spent (below 1: else nothing is bought)."
    )

    @field_validator("target_weights")
    @classmethod
    def _weights_sum_to_at_most_one(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        total = sum(value.values(), start=Decimal(0))
        if total > 1:
            raise ValueError(f"target weights must add up to at most 1 (they add up to {total})")
        return value


class PurgeBackoffPolicy(_Section):
    base_delay_sec: WholeNumber = Field(300, ge=1, le=86_400, description="Wait after a first failed purge.")
    max_delay_sec: WholeNumber = Field(14_400, ge=1, le=604_800, description="The wait doubles up to this.")

    @field_validator("max_delay_sec")
    @classmethod
    def _max_covers_base(cls, value: int, info: ValidationInfo) -> int:
        return _at_least(value, "base_delay_sec", info)


class PortfolioManagementPolicy(_Section):
    """Portfolio management: how positions are wound down."""

    quote_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,10}$")] = Field(
        "USD", description="The currency holdings are sold into (product ids are ASSET-QUOTE)."
    )
    purge_execution: PurgeExecutionPolicy = Field(
        default_factory=PurgeExecutionPolicy, description="Purge mode (T3 illiquid junk)."
    )
    keep: tuple[Asset, ...] = Field((), description="Assets never purged automatically.")
    tiers: TiersPolicy = Field(default_factory=TiersPolicy, description="Liquidity tiers.")
    rebalance: RebalancePolicy = Field(default_factory=RebalancePolicy, description="Targets for T1/T2.")
    purge_backoff: PurgeBackoffPolicy = Field(
        default_factory=PurgeBackoffPolicy, description="Backoff after a failed purge."
    )

    @field_validator("keep")
    @classmethod
    def _keep_lists_assets_once_and_not_the_quote(
        cls, keep: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return _asset_list(keep, info.data.get("quote_currency"))

    @field_validator("rebalance")
    @classmethod
    def _quote_takes_no_target(cls, rebalance: RebalancePolicy, info: ValidationInfo) -> RebalancePolicy:
        quote = info.data.get("quote_currency")
        if quote in rebalance.target_weights:
            raise _rule(
                f"{quote} is the quote currency: it takes whatever weight the targets leave",
                f"remove {quote} from target_weights",
                key="target_weights",
            )
        return rebalance


def _asset_list(assets: tuple[str, ...], quote: object) -> tuple[str, ...]:
    """Refuse an asset listed twice, and the quote currency (nothing can sell it into itself)."""
    if twice := _duplicates(assets):
        raise _rule(f"lists {', '.join(twice)} more than once", "name each asset once")
    if quote in assets:
        raise _rule(
            f"{quote} is the quote currency: holdings are sold into it, it is never kept or purged",
            f"remove {quote}",
        )
    return assets


class Policy(_Section):
    """The whole policy file. Rollback is a change to the file, never to code."""

    execution: ExecutionPolicy = Field(
        default_factory=ExecutionPolicy, description="Normal trading: maker-first with a spread-based TTL."
    )
    guards: GuardsPolicy = Field(default_factory=GuardsPolicy, description="Guards in front of every order.")
    portfolio_management: PortfolioManagementPolicy = Field(
        default_factory=PortfolioManagementPolicy, description="Portfolio management, including purge mode."
    )
    purge: tuple[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,10}$")], ...] = Field(
        (), description="Assets to sell out of completely with the purge loop, e.g. [PENGU, ZK]."
    )

    @field_validator("purge")
    @classmethod
    def _purge_agrees_with_portfolio_management(
        cls, purge: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        portfolio = info.data.get("portfolio_management")
        if not isinstance(portfolio, PortfolioManagementPolicy):
            return _asset_list(purge, None)
        _asset_list(purge, portfolio.quote_currency)
        if both := sorted(set(purge) & set(portfolio.keep)):
            raise _rule(
                f"{', '.join(both)} also on portfolio_management.keep: an asset is either kept or purged",
                "remove it from one of the two lists",
            )
        if targeted := sorted(set(purge) & set(portfolio.rebalance.target_weights)):
            raise _rule(
                f"{', '.join(targeted)} also has a target weight: it would be bought back after every purge",
                "remove it from purge or from portfolio_management.rebalance.target_weights",
            )
        return purge
