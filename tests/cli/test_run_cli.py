"""``makerfirst run`` on paper: the main loop through the real CLI, state in a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.persistence.store import SqlStore

runner = CliRunner()


def test_paper_fast_run_purges_the_listed_holdings_and_reports_utilization(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    args = ["run", "--paper", "--fast", "--cycles", "2", "--market", "dead", "--set", "purge=[PENGU, ZK]"]
    args += [
        "--policy",
        "config/policy.yaml",
        "--balance",
        "PENGU=1116",
        "--balance",
        "ZK=400",
        "--db",
        db,
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [c["index"] for c in out["cycles"]] == [0, 1]
    assert all(0 <= c["utilization"] < 0.1 for c in out["cycles"])
    assert {r["product"]: r["outcome"] for r in out["runs"]} == {
        "PENGU-USD": "complete",
        "ZK-USD": "complete",
    }
    assert out["open_orders"] == 0 and out["orders"] == 6
    store = SqlStore(db)  # the same state, read back from the file
    assert len(store.cycles()) == 2 and len(store.all_orders()) == 6


def test_run_needs_cycles_or_loop() -> None:
    result = runner.invoke(app, ["run", "--paper"])
    assert result.exit_code != 0
    assert "--cycles" in result.output


def test_real_exchange_needs_live(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--exchange", "coinbase", "--cycles", "1", "--db", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2
    assert "--live" in result.stderr


def test_bad_balance_names_the_option(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["run", "--fast", "--cycles", "1", "--balance", "PENGU=lots", "--db", f"sqlite:///{tmp_path}/x.db"],
    )
    assert result.exit_code != 0
    assert "--balance" in result.output
