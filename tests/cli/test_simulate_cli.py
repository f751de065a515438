"""The issue's acceptance commands, through the real CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from makerfirst.cli.main import app

FIXTURES = Path(__file__).parent.parent / "fixtures"
PURGE = [
    "simulate",
    "purge",
    "--product",
    "PENGU-USD",
    "--size",
    "1116",
    "--price",
    "0.0145",
    "--market",
    "dead",
]
runner = CliRunner()


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_purge_on_a_dead_market_goes_maker_maker_taker_and_completes() -> None:
    out = run_json(*PURGE)
    kinds = [(a["kind"], a["ttl_sec"]) for a in out["attempts"]]
    assert kinds == [("maker", 25), ("maker", 20), ("taker", None)]
    taker = out["attempts"][-1]
    assert taker["order_type"] == "sor_limit_ioc"
    assert out["completed"] is True and out["outcome"] == "complete" and out["purpose"] == "purge"
    assert Decimal(taker["avg_fill_price"]) >= Decimal(out["arrival_best_bid"]) * Decimal("0.99")
    for key in (
        "requested_size",
        "arrival_mid",
        "filled_size",
        "filled_value_usd",
        "fees_usd",
        "remaining_size",
    ):
        assert isinstance(out[key], str)  # money is exact: strings, never floats
    for key in ("start_value_usd", "remaining_value_usd", "implementation_shortfall_bps", "elapsed_sec"):
        assert key in out


def test_purge_without_the_taker_fallback_never_takes() -> None:
    out = run_json(*PURGE, "--set", "portfolio_management.purge_execution.allow_taker_fallback=false")
    assert [a["kind"] for a in out["attempts"]] == ["maker", "maker"]
    assert out["completed"] is False


def test_purge_of_about_87_dollars_exceeds_the_threshold() -> None:
    args = list(PURGE)
    args[args.index("1116")] = "6000"
    out = run_json(*args)
    assert all(a["kind"] == "maker" for a in out["attempts"])
    assert out["outcome"] == "residual_exceeds_threshold"


def test_normal_sell_on_a_liquid_market_starts_with_a_12_to_15s_ttl() -> None:
    out = run_json("simulate", "sell", "--product", "BTC-USD", "--size-usd", "500", "--market", "liquid")
    assert out["purpose"] == "normal"
    assert 12 <= out["attempts"][0]["ttl_sec"] <= 15


def test_same_seed_same_run() -> None:
    assert run_json(*PURGE) == run_json(*PURGE)


def test_transcript_is_the_design_notes_after_fixed_lines() -> None:
    result = runner.invoke(app, [*PURGE, "--seed", "1"])
    lines = result.stdout.splitlines()
    assert lines[0] == "TWAP purge start: 1116 PENGU (~$16.18)"
    assert lines[1].startswith("  Slice 1: post-only @ $0.0144") and lines[1].endswith(
        "TTL=25s → no fill → canceled"
    )
    assert lines[2].endswith("TTL=20s → no fill → canceled")
    assert (
        "⚠️ TWAP: activating aggressive purge mode for PENGU-USD (remaining=$16.18 < $50.00 threshold)"
        in lines[3]
    )
    assert lines[4] == "  Forcing taker sell ~$16.18 (max_slippage=1.0%)"
    assert any(line.startswith("  ✅ Taker fallback filled $16.") for line in lines)
    assert lines[-1] == "  Purge complete"


def test_products_file_in_the_legacy_coinbase_format_is_accepted() -> None:
    out = run_json(
        "simulate", "purge", "--product", "SKL-USD", "--size", "100", "--price", "0.79", "--market", "dead",
        "--products-file", str(FIXTURES / "coinbase-pro-products-2021-04-17.txt"),
    )  # fmt: skip
    assert out["product"] == "SKL-USD"
    for attempt in out["attempts"]:
        assert Decimal(attempt["price"]) % Decimal("0.0001") == 0  # SKL-USD's quote_increment
        assert Decimal(attempt["size"]) % Decimal("0.1") == 0


def test_unknown_product_is_a_clear_error() -> None:
    result = runner.invoke(app, ["simulate", "purge", "--product", "NOPE-USD", "--size", "1"])
    assert result.exit_code == 2
    assert "unknown product 'NOPE-USD'" in result.stderr and "--products-file" in result.stderr


def test_bad_override_names_the_key() -> None:
    result = runner.invoke(
        app, [*PURGE, "--set", "portfolio_management.purge_execution.taker_max_slippage_bps=-5"]
    )
    assert result.exit_code == 2
    assert "portfolio_management.purge_execution.taker_max_slippage_bps" in result.stderr


def test_config_validate_names_the_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("portfolio_management:\n  purge_execution:\n    taker_max_slippage_bps: -5\n")
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code != 0
    assert "portfolio_management.purge_execution.taker_max_slippage_bps" in result.stderr
    ok = runner.invoke(app, ["config", "validate", "config/policy.yaml"])
    assert ok.exit_code == 0 and ok.stdout.strip() == "ok"
