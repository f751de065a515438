"""Every rule the run relies on is in the policy models: ``config validate`` fails wherever ``run``
would, with the dotted path of the key to change and the fix.

Before, these policies were "ok" for ``config validate`` and crashed ``run`` with a traceback from
``portfolio/*.__post_init__``, or were accepted and ran nonsense (an hour-long retry, a taker that
a count can never reach, a poll every nanosecond).
"""

from __future__ import annotations

import pickle
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.policy import PolicyError, load_policy
from makerfirst.runner.portfolio_step import portfolio_policy

CONFIG_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"
PM = "portfolio_management"
PURGE = f"{PM}.purge_execution"
runner = CliRunner()

BROKEN = [
    pytest.param(
        [f"{PM}.tiers.upgrade_margin=2"], f"{PM}.tiers.upgrade_margin: must be < 1", id="upgrade-margin"
    ),
    pytest.param(
        [f"{PM}.tiers.t1.max_spread_bps=200"],
        f"{PM}.tiers.t2.max_spread_bps: is 100, stricter than t1's 200",
        id="t1-looser-than-t2-spread",
    ),
    pytest.param(
        [f"{PM}.tiers.t2.min_volume_24h_usd=9000000"],
        f"{PM}.tiers.t2.min_volume_24h_usd: is 9000000, stricter than t1's",
        id="t1-looser-than-t2-volume",
    ),
    pytest.param(
        [f"{PM}.rebalance.fee_reserve_fraction=1"],
        f"{PM}.rebalance.fee_reserve_fraction: must be < 1 (got 1)",
        id="fee-reserve-all",
    ),
    pytest.param(
        [f"{PM}.purge_backoff.base_delay_sec=20000"],
        f"{PM}.purge_backoff.max_delay_sec: must be at least base_delay_sec, which is 20000",
        id="backoff-base-above-max",
    ),
    pytest.param(["purge=[USD]"], "purge: USD is the quote currency", id="quote-in-purge"),
    pytest.param([f"{PM}.keep=[USD]"], f"{PM}.keep: USD is the quote currency", id="quote-in-keep"),
    pytest.param(
        [f"{PM}.rebalance.target_weights={{BTC: 0.4, USD: 0.2}}"],
        f"{PM}.rebalance.target_weights: USD is the quote currency",
        id="quote-in-targets",
    ),
    pytest.param(
        [f"{PM}.quote_currency=EUR", "purge=[EUR]"],
        "purge: EUR is the quote currency",
        id="other-quote-in-purge",
    ),
    pytest.param(
        [f"{PM}.keep=[ZK]", "purge=[PENGU, ZK]"],
        "purge: ZK also on portfolio_management.keep",
        id="keep-and-purge",
    ),
    pytest.param(
        [f"{PM}.rebalance.target_weights={{BTC: 0.4}}", "purge=[BTC]"],
        "purge: BTC also has a target weight",
        id="purge-a-target",
    ),
    pytest.param(
        [f"{PURGE}.maker_first_ttl_sec=5", f"{PURGE}.maker_retry_ttl_sec=3600"],
        f"{PURGE}.maker_retry_ttl_sec: must be at most 4 x maker_first_ttl_sec, which is 5 (got 3600);"
        " allowed: an integer from 1 to 20",
        id="retry-ttl-an-hour",
    ),
    pytest.param(
        [f"{PURGE}.max_consecutive_no_fill=30", f"{PURGE}.max_slices=20"],
        f"{PURGE}.max_consecutive_no_fill: 30 attempts without a fill can never happen within max_slices=20",
        id="no-fill-count-unreachable",
    ),
    pytest.param(
        [f"{PURGE}.taker_fallback_threshold_usd=0"],
        f"{PURGE}.taker_fallback_threshold_usd: must be > 0 (got 0)",
        id="zero-taker-threshold",
    ),
    pytest.param(
        [f"{PM}.rebalance.drift_band={{absolute: 0, relative: 0}}"],
        f"{PM}.rebalance.drift_band.absolute: absolute and relative are both 0",
        id="zero-drift-band",
    ),
    pytest.param(
        ["execution.order_poll_interval_sec=0.000000001"],
        "execution.order_poll_interval_sec: must be >= 0.25 (got 1e-09)",
        id="nanosecond-poll",
    ),
    pytest.param(["purge=[PENGU, ZK, PENGU]"], "purge: lists PENGU more than once", id="duplicate-purge"),
    pytest.param([f"{PM}.keep=[BTC, BTC]"], f"{PM}.keep: lists BTC more than once", id="duplicate-keep"),
]


@pytest.mark.parametrize(("overrides", "problem"), BROKEN)
def test_config_validate_refuses_what_run_could_not_use(overrides: list[str], problem: str) -> None:
    args = ["config", "validate", str(CONFIG_POLICY)]
    for override in overrides:
        args += ["--set", override]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"error: {problem}" in result.stderr, result.stderr
    assert ";" in result.stderr  # every problem says what is allowed or what to do


@pytest.mark.parametrize(("overrides", "problem"), BROKEN)
def test_run_refuses_the_same_policy_with_the_same_line_and_no_traceback(
    tmp_path: Path, overrides: list[str], problem: str
) -> None:
    args = [
        "run",
        "--paper",
        "--fast",
        "--cycles",
        "1",
        "--policy",
        str(CONFIG_POLICY),
        "--db",
        f"sqlite:///{tmp_path}/s.db",
    ]
    for override in overrides:
        args += ["--set", override]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"error: {problem}" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_retry_ttl_may_exceed_the_first_within_the_factor_so_the_first_can_be_swept_alone() -> None:
    policy = load_policy(CONFIG_POLICY, [f"{PURGE}.maker_first_ttl_sec=5"])  # the shipped retry is 20
    assert policy.portfolio_management.purge_execution.maker_retry_ttl_sec == 20


def test_a_count_above_max_slices_is_fine_when_it_equals_it() -> None:
    policy = load_policy(CONFIG_POLICY, [f"{PURGE}.max_consecutive_no_fill=20", f"{PURGE}.max_slices=20"])
    assert policy.portfolio_management.purge_execution.max_consecutive_no_fill == 20


_ASSETS = st.sampled_from(["BTC", "ETH", "SOL", "ADA", "XRP", "PENGU", "ZK", "SHIB", "DOGE", "USD"])


def _share(draw: st.DrawFn, top: str = "1.1") -> str:
    return str(draw(st.decimals(min_value=0, max_value=Decimal(top), places=2)))


def _assets(draw: st.DrawFn) -> str:
    return "[" + ", ".join(draw(st.lists(_ASSETS, max_size=2, unique=draw(st.integers(0, 4)) > 0))) + "]"


@st.composite
def _portfolio_overrides(draw: st.DrawFn) -> list[str]:
    """Values near and across every rule, for each key the portfolio step reads: t2 around t1,
    the backoff's max around its base, shares up to 1.1, lists with and without repeats or USD."""
    spread, depth = draw(st.integers(0, 300)), draw(st.integers(0, 20_000))
    base = draw(st.integers(1, 20_000))
    weights = draw(st.dictionaries(_ASSETS, st.decimals(0, Decimal("0.5"), places=2), max_size=2))
    return [
        f"{PM}.tiers.t1.max_spread_bps={spread}",
        f"{PM}.tiers.t2.max_spread_bps={max(0, spread + draw(st.integers(-10, 200)))}",
        f"{PM}.tiers.t1.min_depth_usd={depth}",
        f"{PM}.tiers.t2.min_depth_usd={max(0, depth - draw(st.integers(-500, 20_000)))}",
        f"{PM}.tiers.upgrade_margin={_share(draw)}",
        f"{PM}.rebalance.fee_reserve_fraction={_share(draw)}",
        f"{PM}.rebalance.target_weights={{{', '.join(f'{a}: {w}' for a, w in weights.items())}}}",
        f"{PM}.rebalance.drift_band.absolute={_share(draw, '0.1')}",
        f"{PM}.rebalance.drift_band.relative={_share(draw, '0.5')}",
        f"{PM}.purge_backoff.base_delay_sec={base}",
        f"{PM}.purge_backoff.max_delay_sec={max(1, base + draw(st.integers(-1_000, 30_000)))}",
        f"{PM}.keep={_assets(draw)}",
        f"purge={_assets(draw)}",
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_portfolio_overrides())
def test_every_policy_validate_accepts_builds_the_runs_portfolio_rules(overrides: list[str]) -> None:
    """The portfolio's own checks (``__post_init__``) never fire on a policy the loader accepted."""
    try:
        policy = load_policy(CONFIG_POLICY, overrides)
    except PolicyError:
        event("refused by the policy")
        return
    event("accepted")
    portfolio_policy(policy)  # raises ValueError if a rule is missing from the models


def test_a_policy_error_survives_pickling_as_its_problem_lines() -> None:
    """A sweep validates each grid point in a worker process and sends the error back pickled."""
    with pytest.raises(PolicyError) as raised:
        load_policy(CONFIG_POLICY, [f"{PURGE}.maker_first_ttl_sec=2"])
    again = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own object, just pickled
    assert again.problems == raised.value.problems and len(again.problems) == 1
    assert str(again) == str(raised.value)
