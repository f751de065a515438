"""``makerfirst run`` on paper: the main loop through the real CLI, state in a real SQLite file."""

from __future__ import annotations

import json
from decimal import Decimal
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


def test_after_a_purge_only_run_the_text_status_agrees_with_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'purge.db'}"
    args = ["run", "--paper", "--fast", "--cycles", "2", "--market", "dead", "--policy", "config/policy.yaml"]
    args += ["--set", "purge=[PENGU, ZK]", "--balance", "PENGU=1116", "--balance", "ZK=400", "--db", db]
    assert runner.invoke(app, args).exit_code == 0
    as_json = json.loads(runner.invoke(app, ["status", "--db", db, "--json"]).stdout)
    text = runner.invoke(app, ["status", "--db", db]).stdout
    assert as_json["cycles"] == 2 and as_json["holdings"] == []
    assert "no cycle recorded" not in text
    assert "2 cycles" in text and "no holdings measured" in text
    for run in as_json["purge_runs"]:  # the same loops, the same outcomes
        assert run["product"] in text and run["outcome"] in text


def test_the_demo_run_twice_in_one_folder_continues_its_world_and_shows_each_holding_once(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'twice.db'}"
    demo = ["run", "--paper", "--fast", "--cycles", "2", "--seed", "1", "--db", db, "--json"]
    first = json.loads(runner.invoke(app, demo).stdout)
    second = runner.invoke(app, demo)
    assert second.exit_code == 0, second.output
    assert "continuing the simulated venue" in second.stderr
    status = json.loads(runner.invoke(app, ["status", "--db", db, "--json"]).stdout)
    assets = [h["asset"] for h in status["holdings"]]
    assert len(assets) == len(set(assets)), f"a holding listed twice: {assets}"
    # The second run started from the first one's venue: nothing purged or sold again.
    runs = SqlStore(db).runs()
    assert len([r for r in runs if r.product_id == "PENGU-USD"]) == 1
    assert len([r for r in runs if r.product_id == "ETH-USD"]) == 1
    eth_after_first = next(h["size"] for h in first["holdings"] if h["asset"] == "ETH")
    eth_now = next(h["size"] for h in status["holdings"] if h["asset"] == "ETH")
    assert Decimal(eth_now) == Decimal(eth_after_first) < Decimal("0.5")
    text = runner.invoke(app, ["status", "--db", db]).stdout
    assert sum(line.lstrip("│ ").startswith("ETH ") for line in text.splitlines()) == 1


def test_an_unreadable_paper_world_is_a_one_line_error_naming_the_fix(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'broken.db'}"
    store = SqlStore(db)
    for broken in ("{not json", '{"version": 1, "time": 5}'):
        store.save_document("paper_world", broken)
        result = runner.invoke(app, ["run", "--paper", "--fast", "--cycles", "1", "--db", db])
        assert result.exit_code == 2, result.output
        assert "paper world" in result.stderr and "another --db" in result.stderr
        assert "Traceback" not in result.output
