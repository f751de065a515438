"""`makerfirst run` purging with the policy's ``sell_policy`` (design_note, tob, glft): the same
TwapLoop as the backtest, glft quoting from the curves `makerfirst calibrate` saved, through the
real CLI on the paper venue (a real SQLite file)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerfirst.algorithms.glft import FillCurve
from makerfirst.cli.main import app
from makerfirst.replay.estimates import load_curves, save_curves
from makerfirst.replay.fill_curve import POOLED

runner = CliRunner()
SELL_POLICY = "portfolio_management.purge_execution.sell_policy"


@pytest.fixture(autouse=True)
def fresh_transcript() -> Iterator[None]:
    """Each CLI run installs a transcript handler on its own output: drop them between runs."""
    yield
    logger = logging.getLogger("makerfirst")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def curve(product_id: str, a: float = 0.1, k: float = 0.85, sigma: float = 0.48) -> FillCurve:
    return FillCurve(product_id, a, k, sigma, 18.0, 4_000, 2_000, (a * 0.9, a * 1.1), (k * 0.9, k * 1.1))


def curves_file(tmp_path: Path, *, data_end: float | None = None, pooled: bool = True) -> Path:
    path = tmp_path / "curves.json"
    span = None if data_end is None else (data_end - 30.0, data_end)
    save_curves(
        path,
        {"PENGU-USD": curve("PENGU-USD")},
        data="synthetic:thin",
        data_span=span,
        now=datetime.now(UTC),
        pooled=curve(POOLED, a=0.05) if pooled else None,
    )
    return path


def paper_run(tmp_path: Path, *extra: str) -> list[str]:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    args = ["run", "--paper", "--fast", "--cycles", "1", "--market", "thin", "--set", "purge=[PENGU, ZK]"]
    args += ["--policy", "config/policy.yaml", "--balance", "PENGU=1116", "--balance", "ZK=400"]
    return [*args, "--db", db, *extra]


def glft_run(tmp_path: Path, curves: Path) -> list[str]:
    return paper_run(tmp_path, "--fill-curves", str(curves), "--set", f"{SELL_POLICY}=glft")


def test_glft_purges_with_its_quotes_in_the_log_and_the_pooled_curve_said_once(tmp_path: Path) -> None:
    path = curves_file(tmp_path)
    result = runner.invoke(app, [*glft_run(tmp_path, path), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    quotes = [line for line in lines if "GLFT quote:" in line]
    # The transcript simulate shows: distance from the mid, remaining size, time left.
    assert any("[PENGU-USD]" in q for q in quotes) and any("[ZK-USD]" in q for q in quotes), result.stderr
    assert all("from the mid" in q and "s left" in q and ("PENGU)" in q or "ZK)" in q) for q in quotes)
    pooled = [line for line in lines if "quoting from the pooled curve" in line]
    assert len(pooled) == 1 and "ZK-USD has no fill curve" in pooled[0]
    assert f"purges: GLFT quotes from {path}" in result.stderr
    out = json.loads(result.stdout)
    assert {r["product"]: r["status"] for r in out["runs"]}.keys() >= {"PENGU-USD", "ZK-USD"}


def test_the_design_notes_purges_keep_their_lines(tmp_path: Path) -> None:
    result = runner.invoke(app, paper_run(tmp_path))
    assert result.exit_code == 0, result.output
    assert "GLFT" not in result.output and "purges:" not in result.output
    slices = [line for line in result.output.splitlines() if "[PENGU-USD]" in line and "Slice 1:" in line]
    assert slices and "TTL=25s" in slices[0]  # the design note's first purge attempt


def test_tob_purges_track_the_touch(tmp_path: Path) -> None:
    result = runner.invoke(app, paper_run(tmp_path, "--set", f"{SELL_POLICY}=tob"))
    assert result.exit_code == 0, result.output
    assert "purges: the design note's loop tracking the top of the book" in result.output
    assert "GLFT" not in result.output


def test_glft_without_curves_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, paper_run(tmp_path, "--set", f"{SELL_POLICY}=glft"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()[-1:]
    assert "fill_curves: sell_policy glft quotes from fill curves, and none are given" in line
    assert "Traceback" not in result.output


def test_glft_with_a_missing_curves_file_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = runner.invoke(app, glft_run(tmp_path, missing))
    assert result.exit_code == 2
    assert f"{missing}: no such fill-curves file; write it with `makerfirst calibrate`" in result.output
    assert "TWAP purge start" not in result.output and "Traceback" not in result.output


def test_old_curves_warn_with_their_date(tmp_path: Path) -> None:
    old = datetime(2021, 4, 17, 12, tzinfo=UTC).timestamp()
    path = curves_file(tmp_path, data_end=old)
    result = runner.invoke(app, glft_run(tmp_path, path))
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert "days old (data ending 2021-04-17T12:00:00+00:00)" in warning
    assert "fill_curves_max_age_days=30" in warning


def test_without_a_pooled_curve_other_products_get_the_design_notes_loop(tmp_path: Path) -> None:
    path = curves_file(tmp_path, pooled=False)
    result = runner.invoke(app, glft_run(tmp_path, path))
    assert result.exit_code == 0, result.output
    assert "any other product gets the design note's loop" in result.output
    zk = [line for line in result.output.splitlines() if "[ZK-USD]" in line]
    assert zk and not any("GLFT" in line for line in zk)


def test_config_validate_reads_glfts_curves(tmp_path: Path) -> None:
    path = curves_file(tmp_path)
    glft = ["--set", f"{SELL_POLICY}=glft"]
    curves_key = "portfolio_management.purge_execution.fill_curves"
    ok = runner.invoke(
        app, ["config", "validate", "config/policy.yaml", *glft, "--set", f"{curves_key}={path}"]
    )
    assert ok.exit_code == 0 and ok.stdout.strip() == "ok", ok.output
    missing = runner.invoke(
        app, ["config", "validate", "config/policy.yaml", *glft, "--set", f"{curves_key}=nope.json"]
    )
    assert missing.exit_code == 2
    assert "fill_curves: nope.json: no such fill-curves file" in missing.output


def test_calibrate_saves_the_pooled_curve(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    result = runner.invoke(app, ["calibrate", "--data", "synthetic:thin", "--out", str(path)])
    assert result.exit_code == 0, result.output
    saved = load_curves(path)
    assert saved.pooled is not None and saved.pooled.product_id == POOLED
    [own] = saved.curves.values()
    assert saved.pooled.orders == own.orders and saved.pooled.k > 0
