"""``makerfirst backtest`` / ``sweep`` through a Typer app of their own (cli/main.py registers them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from makerfirst.cli.backtest_cmd import backtest, sweep
from simkit import COINBASE_THIN

CAPTURE = COINBASE_THIN
METRIC_KEYS = {
    "policy",
    "mode",
    "episodes",
    "censored",
    "is_mean_bps",
    "is_median_bps",
    "is_p95_bps",
    "e",
    "completion_rate",
    "maker_fill_within_horizon",
    "maker_share",
    "time_to_complete_median_sec",
    "time_to_first_fill_median_sec",
    "market_sell_mean_bps",
    "perfect_maker_mean_bps",
    "orders_mean",
    "horizon_median_sec",
    "markouts",
    "taker_leg",
    "vs_reference",
}
INTERVAL_KEYS = {"value", "low", "high", "n", "method"}
POLICIES = ["market_sell", "fixed_ttl", "design_note", "freqtrade"]

app = typer.Typer()
app.command("backtest")(backtest)
app.command("sweep")(sweep)


@pytest.fixture(autouse=True)
def _reader_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKERFIRST_CACHE_DIR", str(tmp_path / "cache"))


def run(*args: str) -> dict[str, object]:
    outcome = CliRunner().invoke(app, list(args))
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared capture not present")
def test_the_acceptance_command_reports_every_policy_and_a_clean_rebuild(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    data = run(
        "backtest",
        "--data", str(CAPTURE / "ws-feed.txt"),
        "--products-file", str(CAPTURE / "products.txt"),
        "--episodes", "2",
        "--json",
        "--report", str(report),
    )  # fmt: skip
    assert data["rebuild_check"] == {
        "messages_compared": 69,
        "mismatches": 0,
        "crossed": 0,
        "first_problem": None,
    }
    assert data["fill_model"] == "conservative" and data["products"] == ["SKL-USD"]
    metrics = data["metrics"]
    assert isinstance(metrics, list)
    assert [(m["mode"], m["policy"]) for m in metrics] == [
        (mode, p) for mode in ("replay", "calibrated") for p in POLICIES
    ]
    assert all(set(m) == METRIC_KEYS for m in metrics)
    # The 31 s capture is shorter than the 120 s deadline: one replay episode, said so in the notes.
    assert [m["episodes"] for m in metrics] == [1] * 4 + [2] * 4
    notes = data["notes"]
    assert isinstance(notes, list) and "shorter than the policies' 120 s deadline" in notes[0]
    for m in metrics:
        assert set(m["is_mean_bps"]) == INTERVAL_KEYS and set(m["completion_rate"]) == INTERVAL_KEYS
        assert [k["horizon_sec"] for k in m["markouts"]] == [1, 5, 30, 60]
        assert isinstance(m["censored"], int)
        if m["policy"] != "design_note":
            assert m["vs_reference"]["reference"] == "design_note"
            assert {"wins", "ties", "losses", "excluded_censored"} <= set(m["vs_reference"])
    page = report.read_text(encoding="utf-8")
    assert page.count("plotly") > 10 and "Fill-time curves" in page


@pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared capture not present")
def test_other_quote_currencies_join_with_a_dollar_rate() -> None:
    data = run(
        "backtest",
        "--data", str(CAPTURE / "ws-feed.txt"),
        "--episodes", "1",
        "--mode", "replay",
        "--policies", "market_sell",
        "--quote-usd", "EUR=1.2", "--quote-usd", "GBP=1.38", "--quote-usd", "BTC=61000",
        "--json",
    )  # fmt: skip
    assert data["skipped"] == [] and len(data["products"]) == 6  # type: ignore[arg-type]


def test_synthetic_markets_and_the_table() -> None:
    data = run(
        "backtest", "--data", "synthetic:dead", "--episodes", "2", "--policies", "design_note", "--json"
    )
    assert data["rebuild_check"] is None and data["calibration"] == []
    # A market without buyers: each of the design note's purges ends in its one capped IOC.
    (metrics,) = data["metrics"]  # type: ignore[misc]
    leg = metrics["taker_leg"]
    assert (leg["orders"], leg["episodes_with_taker"], leg["episodes"]) == (2, 2, 2)
    assert leg["caps_bps"] == [100] and leg["beyond_cap"] == 0 and 0 <= leg["worst_bps"] <= 100
    assert set(leg["p95_bps"]) == INTERVAL_KEYS and leg["p95_bps"]["n"] == 2
    wide = CliRunner(env={"COLUMNS": "160"})
    table = wide.invoke(
        app, ["backtest", "--data", "synthetic:dead", "--episodes", "1", "--policies", "market_sell"]
    )
    assert table.exit_code == 0 and "market_sell" in table.stdout
    assert "synthetic market_sell taker leg: 1 orders in 1 of 1 episodes, worst" in table.stdout
    assert "0 beyond the 1000 bps cap" in table.stdout


def test_bad_input_is_an_error_with_the_fix() -> None:
    outcome = CliRunner().invoke(app, ["backtest", "--data", "synthetic:nope", "--json"])
    assert outcome.exit_code == 2 and "choose one of" in outcome.output
    outcome = CliRunner().invoke(app, ["backtest", "--data", "synthetic:dead", "--policies", "twap9"])
    assert outcome.exit_code == 2 and "unknown policies twap9" in outcome.output


def test_sweep_json() -> None:
    data = run(
        "sweep",
        "--data", "synthetic:dead",
        "--grid", "portfolio_management.purge_execution.max_consecutive_no_fill=1,2",
        "--episodes", "2",
        "--deadline", "60",
        "--workers", "1",
        "--json",
    )  # fmt: skip
    assert data["backend"] == "inline" and len(data["points"]) == 2  # type: ignore[arg-type]
    metrics = data["metrics"]
    assert isinstance(metrics, list) and {m["policy"] for m in metrics} == {
        "design_note[max_consecutive_no_fill=1]",
        "design_note[max_consecutive_no_fill=2]",
    }


def test_a_capture_whose_rebuilt_book_disagrees_with_its_tickers_is_refused(tmp_path: Path) -> None:
    # A ticker that contradicts the book just before it: the replay would be fiction.
    feed = tmp_path / "ws-feed.txt"
    products = tmp_path / "products.txt"
    products.write_text(
        '[{"id": "SKL-USD", "base_currency": "SKL", "quote_currency": "USD", "quote_increment": "0.0001",'
        ' "base_increment": "0.1", "base_min_size": "5", "min_market_funds": "5", "status": "online"}]'
    )
    lines = [
        '1.0: {"type": "ticker", "product_id": "SKL-USD", "best_bid": "0.7", "best_ask": "0.8"}',
        '2.0: {"type": "snapshot", "product_id": "SKL-USD",'
        ' "bids": [["0.7900", "100"]], "asks": [["0.7910", "100"]]}',
        '3.0: {"type": "ticker", "product_id": "SKL-USD", "best_bid": "0.7800", "best_ask": "0.7910"}',
    ]
    feed.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(feed), "--products-file", str(products), "--json"]
    )
    assert result.exit_code != 0
    assert "disagrees" in result.output
