"""The policy package: the shipped file, strict validation, readable errors, overrides and the CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from makerfirst.cli.config_cmd import config_app
from makerfirst.domain.errors import MakerfirstError
from makerfirst.policy import (
    ExecutionPolicy,
    GuardsPolicy,
    Policy,
    PolicyError,
    PortfolioManagementPolicy,
    PurgeExecutionPolicy,
    default_policy_path,
    load_policy,
    parse_overrides,
)

CONFIG_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"
PURGE = "portfolio_management.purge_execution"


def _shipped_data() -> dict[str, object]:
    data = yaml.safe_load(CONFIG_POLICY.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _set(data: dict[str, object], dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node[part]
        assert isinstance(child, dict)
        node = child
    node[leaf] = value


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _write_shipped_with(tmp_path: Path, changes: dict[str, object]) -> Path:
    """The shipped policy with ``changes`` ({dotted.key: value}) applied, written to a temp file."""
    data = _shipped_data()
    for dotted, value in changes.items():
        _set(data, dotted, value)
    return _write(tmp_path, yaml.safe_dump(data, sort_keys=False))


def _problems(path: Path, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path, overrides)
    return caught.value.problems


# --- the shipped policy ------------------------------------------------------------------------


def test_shipped_file_loads_and_equals_the_model_defaults() -> None:
    assert load_policy(CONFIG_POLICY) == Policy()


def test_packaged_copy_is_byte_identical_to_config() -> None:
    assert default_policy_path().read_bytes() == CONFIG_POLICY.read_bytes()


def test_default_path_loads_the_packaged_copy_from_any_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_policy_path().is_absolute()
    assert load_policy() == Policy()


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        ("execution", "maker_max_ttl_sec", 15),
        ("execution", "maker_first_min_ttl_sec", 12),
        ("execution", "maker_retry_min_ttl_sec", 8),
        ("execution", "cushion_ticks", 1),
        ("execution", "max_cushion_ticks", 3),
        (PURGE, "maker_ttl_sec", 25),
        (PURGE, "maker_first_ttl_sec", 25),
        (PURGE, "maker_retry_ttl_sec", 20),
        (PURGE, "allow_taker_fallback", True),
        (PURGE, "taker_fallback_threshold_usd", Decimal("50")),
        (PURGE, "taker_max_slippage_bps", 100),
        (PURGE, "max_consecutive_no_fill", 2),
        (PURGE, "cushion_ticks", 1),
        (PURGE, "max_cushion_ticks", 3),
    ],
)
def test_design_note_defaults(section: str, key: str, expected: object) -> None:
    for policy in (Policy(), load_policy(CONFIG_POLICY)):
        node: object = policy
        for part in section.split("."):
            node = getattr(node, part)
        value = getattr(node, key)
        assert value == expected
        assert type(value) is type(expected)


def test_every_field_is_described() -> None:
    for model in (Policy, ExecutionPolicy, GuardsPolicy, PortfolioManagementPolicy, PurgeExecutionPolicy):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Policy(), "guards", GuardsPolicy()),
        (ExecutionPolicy(), "maker_max_ttl_sec", 30),
        (GuardsPolicy(), "max_spread_bps", 1),
        (PortfolioManagementPolicy(), "purge_execution", PurgeExecutionPolicy()),
        (PurgeExecutionPolicy(), "allow_taker_fallback", False),
    ],
)
def test_models_are_frozen(model: BaseModel, field: str, value: object) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model, field, value)


def test_policy_compares_as_a_value() -> None:
    assert Policy() == load_policy(CONFIG_POLICY)


# --- exact numbers -----------------------------------------------------------------------------


def test_yaml_floats_become_exact_decimals(tmp_path: Path) -> None:
    path = _write_shipped_with(
        tmp_path, {f"{PURGE}.taker_fallback_threshold_usd": 0.1, "execution.order_poll_interval_sec": 0.3}
    )
    policy = load_policy(path)
    assert policy.portfolio_management.purge_execution.taker_fallback_threshold_usd == Decimal("0.1")
    assert policy.execution.order_poll_interval_sec == Decimal("0.3")


def test_decimal_strings_are_accepted_for_money() -> None:
    assert GuardsPolicy.model_validate({"min_depth_usd": "20.05"}).min_depth_usd == Decimal("20.05")


def test_whole_floats_are_accepted_as_ints() -> None:
    policy = ExecutionPolicy.model_validate({"maker_max_ttl_sec": 15.0})
    assert policy.maker_max_ttl_sec == 15
    assert type(policy.maker_max_ttl_sec) is int


# --- purge TTL inheritance ---------------------------------------------------------------------


def test_purge_ttls_inherit_maker_ttl_sec_when_omitted() -> None:
    purge = PurgeExecutionPolicy.model_validate({"maker_ttl_sec": 40})
    assert (purge.maker_ttl_sec, purge.maker_first_ttl_sec, purge.maker_retry_ttl_sec) == (40, 40, 40)


def test_purge_ttls_given_explicitly_are_kept() -> None:
    purge = PurgeExecutionPolicy.model_validate({"maker_ttl_sec": 40, "maker_retry_ttl_sec": 30})
    assert (purge.maker_ttl_sec, purge.maker_first_ttl_sec, purge.maker_retry_ttl_sec) == (40, 40, 30)


def test_purge_ttls_all_omitted_take_the_shipped_defaults() -> None:
    purge = PurgeExecutionPolicy.model_validate({})
    assert (purge.maker_ttl_sec, purge.maker_first_ttl_sec, purge.maker_retry_ttl_sec) == (25, 25, 20)


# --- bad input, table-driven -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected_path"),
    [
        # negative and out of range
        ({f"{PURGE}.taker_max_slippage_bps": -5}, f"{PURGE}.taker_max_slippage_bps"),
        ({f"{PURGE}.taker_max_slippage_bps": 1001}, f"{PURGE}.taker_max_slippage_bps"),
        ({"execution.maker_max_ttl_sec": 0}, "execution.maker_max_ttl_sec"),
        ({"execution.maker_max_ttl_sec": 3601}, "execution.maker_max_ttl_sec"),
        ({"execution.order_poll_interval_sec": 0}, "execution.order_poll_interval_sec"),
        ({"execution.order_poll_interval_sec": 60.5}, "execution.order_poll_interval_sec"),
        ({"execution.max_slice_usd": 0}, "execution.max_slice_usd"),
        ({"guards.min_depth_usd": -1.5}, "guards.min_depth_usd"),
        ({"guards.failed_order_cooldown_sec": 86_401}, "guards.failed_order_cooldown_sec"),
        ({f"{PURGE}.max_slices": 0}, f"{PURGE}.max_slices"),
        ({f"{PURGE}.taker_fallback_threshold_usd": -0.01}, f"{PURGE}.taker_fallback_threshold_usd"),
        # unknown keys at every depth
        ({"risk": {"max_loss_usd": 5}}, "risk"),
        ({"execution.maker_ttl": 5}, "execution.maker_ttl"),
        ({"portfolio_management.purge": {}}, "portfolio_management.purge"),
        ({f"{PURGE}.max_slice_usd": 5}, f"{PURGE}.max_slice_usd"),
        # wrong types
        ({f"{PURGE}.allow_taker_fallback": "yes"}, f"{PURGE}.allow_taker_fallback"),
        ({f"{PURGE}.allow_taker_fallback": 1}, f"{PURGE}.allow_taker_fallback"),
        ({"execution.cushion_ticks": "abc"}, "execution.cushion_ticks"),
        ({"execution.cushion_ticks": "2"}, "execution.cushion_ticks"),
        ({"execution.cushion_ticks": 1.5}, "execution.cushion_ticks"),
        ({"guards.max_spread_bps": True}, "guards.max_spread_bps"),
        ({"execution.max_slice_usd": "lots"}, "execution.max_slice_usd"),
        ({"execution.max_slice_usd": True}, "execution.max_slice_usd"),
        ({"execution.max_slice_usd": float("nan")}, "execution.max_slice_usd"),
        ({"guards": 5}, "guards"),
        ({"portfolio_management.purge_execution": ["maker_ttl_sec"]}, PURGE),
        # cross-field orderings
        ({"execution.maker_first_min_ttl_sec": 16}, "execution.maker_first_min_ttl_sec"),
        ({"execution.maker_retry_min_ttl_sec": 16}, "execution.maker_retry_min_ttl_sec"),
        ({"execution.cushion_ticks": 4}, "execution.max_cushion_ticks"),
        ({f"{PURGE}.cushion_ticks": 4}, f"{PURGE}.max_cushion_ticks"),
    ],
)
def test_bad_input_is_reported_at_its_dotted_path(
    tmp_path: Path, changes: dict[str, object], expected_path: str
) -> None:
    problems = _problems(_write_shipped_with(tmp_path, changes))
    assert [problem.split(": ", 1)[0] for problem in problems] == [expected_path]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {f"{PURGE}.taker_max_slippage_bps": -5},
            f"{PURGE}.taker_max_slippage_bps: must be >= 0 (got -5); allowed: an integer from 0 to 1000",
        ),
        (
            {f"{PURGE}.allow_taker_fallback": "yes"},
            f"{PURGE}.allow_taker_fallback: must be true or false (got 'yes')",
        ),
        (
            {"execution.maker_ttl": 5},
            "execution.maker_ttl: unknown key; allowed keys: cancel_confirm_timeout_sec, cushion_ticks, "
            "gtd_grace_sec, maker_first_min_ttl_sec, maker_max_ttl_sec, maker_retry_min_ttl_sec, "
            "max_cushion_ticks, max_maker_attempts, max_slice_usd, order_poll_interval_sec, "
            "ttl_full_spread_bps",
        ),
        (
            {"execution.cushion_ticks": 1.5},
            "execution.cushion_ticks: must be an integer (got 1.5); allowed: an integer from 0 to 100",
        ),
        (
            {"execution.order_poll_interval_sec": 0},
            "execution.order_poll_interval_sec: must be >= 0.25 (got 0); allowed: a number from 0.25 to 60",
        ),
        (
            {"guards.min_depth_usd": -1.5},
            "guards.min_depth_usd: must be >= 0 (got -1.5); allowed: a number >= 0",
        ),
        (
            {"execution.maker_first_min_ttl_sec": 16},
            "execution.maker_first_min_ttl_sec: must not exceed maker_max_ttl_sec, which is 15 (got 16); "
            "allowed: an integer from 1 to 15",
        ),
        (
            {f"{PURGE}.cushion_ticks": 4},
            f"{PURGE}.max_cushion_ticks: must be at least cushion_ticks, which is 4 (got 3); "
            "allowed: an integer from 4 to 100",
        ),
        (
            {"guards": 5},
            "guards: must be a mapping (got 5); allowed keys: depth_band_bps, failed_order_cooldown_sec, "
            "max_book_age_sec, max_spread_bps, min_depth_usd, slippage_budget_bps",
        ),
    ],
)
def test_problem_lines_are_worded_exactly(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    assert _problems(_write_shipped_with(tmp_path, changes)) == [expected]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = _write_shipped_with(
        tmp_path, {"execution.maker_max_ttl_sec": 5, f"{PURGE}.taker_max_slippage_bps": -1, "guards.typo": 1}
    )
    problems = _problems(path)
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        "execution.maker_first_min_ttl_sec",
        "execution.maker_retry_min_ttl_sec",
        "guards.typo",
        f"{PURGE}.taker_max_slippage_bps",
    ]


def test_an_ordering_is_checked_when_only_the_limit_is_set() -> None:
    with pytest.raises(ValidationError, match="maker_first_min_ttl_sec"):
        ExecutionPolicy.model_validate({"maker_max_ttl_sec": 10})


@pytest.mark.parametrize("spelling", ["yes", "no", "on", "off"])
def test_yaml_1_1_bool_words_are_refused(tmp_path: Path, spelling: str) -> None:
    text = CONFIG_POLICY.read_text(encoding="utf-8").replace(
        "allow_taker_fallback: true", f"allow_taker_fallback: {spelling}"
    )
    assert _problems(_write(tmp_path, text)) == [
        f"{PURGE}.allow_taker_fallback: must be true or false (got '{spelling}')"
    ]


def test_policy_error_lists_one_problem_per_line(tmp_path: Path) -> None:
    path = _write_shipped_with(tmp_path, {"execution.cushion_ticks": -1, "guards.max_spread_bps": 0})
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert isinstance(caught.value, MakerfirstError)
    assert str(caught.value).splitlines() == caught.value.problems
    assert len(caught.value.problems) == 2


# --- reading the file --------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "execution:\n  maker_max_ttl_sec: 15\n  cushion_ticks: [1\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}, line ")
    assert "invalid YAML" in problem


def test_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "execution:\n  cushion_ticks: 1\n  cushion_ticks: 2\n")
    assert _problems(path) == [f"{path}, line 3, column 3: invalid YAML: found duplicate key 'cushion_ticks'"]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert _problems(path) == [f"{path}: policy file not found"]


def test_unreadable_path_names_the_file(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path)
    assert problem.startswith(f"{tmp_path}: cannot read the policy file")


@pytest.mark.parametrize(("text", "shown"), [("", "null"), ("- execution\n", "['execution']"), ("5\n", "5")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, shown: str) -> None:
    path = _write(tmp_path, text)
    assert _problems(path) == [f"{path}: the top level must be a mapping of sections (got {shown})"]


# --- overrides ---------------------------------------------------------------------------------


def test_override_turns_the_taker_fallback_off() -> None:
    policy = load_policy(CONFIG_POLICY, [f"{PURGE}.allow_taker_fallback=false"])
    assert policy.portfolio_management.purge_execution.allow_taker_fallback is False


def test_override_sets_an_int() -> None:
    policy = load_policy(CONFIG_POLICY, [f"{PURGE}.maker_first_ttl_sec=10"])
    assert policy.portfolio_management.purge_execution.maker_first_ttl_sec == 10


def test_override_float_becomes_exact_decimal() -> None:
    policy = load_policy(None, [f"{PURGE}.taker_fallback_threshold_usd=0.1"])
    assert policy.portfolio_management.purge_execution.taker_fallback_threshold_usd == Decimal("0.1")


def test_later_override_wins() -> None:
    policy = load_policy(None, ["execution.cushion_ticks=2", "execution.cushion_ticks=0"])
    assert policy.execution.cushion_ticks == 0


def test_override_values_are_validated_like_the_file() -> None:
    assert _problems(CONFIG_POLICY, (f"{PURGE}.taker_max_slippage_bps=-5",)) == [
        f"{PURGE}.taker_max_slippage_bps: must be >= 0 (got -5); allowed: an integer from 0 to 1000"
    ]


@pytest.mark.parametrize(
    ("override", "expected_path"),
    [
        ("execution.maker_ttl=5", "execution.maker_ttl"),
        (f"{PURGE}.new_switch=true", f"{PURGE}.new_switch"),
        ("risk.limits.max_loss_usd=5", "risk"),
    ],
)
def test_unknown_key_override_fails_naming_it(override: str, expected_path: str) -> None:
    (problem,) = _problems(CONFIG_POLICY, (override,))
    assert problem.startswith(f"{expected_path}: unknown key; allowed keys: ")


def test_override_below_a_scalar_fails() -> None:
    assert _problems(CONFIG_POLICY, ("execution.cushion_ticks.x=1",)) == [
        "--set execution.cushion_ticks.x: execution.cushion_ticks is not a mapping (got 1)"
    ]


@pytest.mark.parametrize(
    "override", ["execution.cushion_ticks", "=1", "execution..cushion_ticks=1", ".x=1", "x.=1"]
)
def test_malformed_override_fails(override: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_overrides([override])
    assert caught.value.problems == [f"--set expects dotted.key=value, got {override!r}"]


def test_override_with_invalid_yaml_value_fails() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_overrides(["execution.cushion_ticks=[1"])
    (problem,) = caught.value.problems
    assert problem.startswith("--set execution.cushion_ticks: the value '[1' is not valid YAML")


def test_override_values_are_parsed_as_yaml() -> None:
    assert parse_overrides(["a.b=false", "c=2", "d=0.5", "e=yes", "f=", "g=x=y"]) == {
        "a.b": False,
        "c": 2,
        "d": 0.5,
        "e": "yes",
        "f": None,
        "g": "x=y",
    }


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_validate_prints_ok_for_the_shipped_file() -> None:
    result = CliRunner().invoke(config_app, ["validate", str(CONFIG_POLICY)])
    assert result.exit_code == 0
    assert result.stdout == "ok\n"


def test_cli_validate_reports_problems_and_exits_2(tmp_path: Path) -> None:
    path = _write_shipped_with(tmp_path, {f"{PURGE}.taker_max_slippage_bps": -5})
    result = CliRunner().invoke(config_app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {PURGE}.taker_max_slippage_bps: must be >= 0 (got -5); allowed: an integer from 0 to 1000\n"
    )


def test_cli_validate_applies_set_overrides() -> None:
    runner = CliRunner()
    ok = runner.invoke(
        config_app, ["validate", str(CONFIG_POLICY), "--set", f"{PURGE}.allow_taker_fallback=false"]
    )
    assert (ok.exit_code, ok.stdout) == (0, "ok\n")
    bad = runner.invoke(
        config_app,
        [
            "validate",
            str(CONFIG_POLICY),
            "--set",
            "execution.maker_ttl=5",
            "--set",
            "guards.max_spread_bps=0",
        ],
    )
    assert bad.exit_code == 2
    assert [line.split(": ", 2)[1] for line in bad.stderr.splitlines()] == [
        "execution.maker_ttl",
        "guards.max_spread_bps",
    ]


def test_cli_validate_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(config_app, ["validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert str(tmp_path / "absent.yaml") in result.stderr
