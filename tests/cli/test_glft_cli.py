"""`simulate purge --policy glft|tob` and `makerfirst calibrate`, through the real CLI."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.replay.estimates import load_curves

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_transcript() -> Iterator[None]:
    """Each CLI run installs a transcript handler on its own output: drop them between runs."""
    yield
    logger = logging.getLogger("makerfirst")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


PURGE = ["simulate", "purge", "--product", "PENGU-USD", "--size", "1116", "--price", "0.0145", "--seed", "1"]


def test_glft_shows_its_quotes_in_the_transcript() -> None:
    glft = runner.invoke(app, [*PURGE, "--market", "thin", "--policy", "glft"])
    assert glft.exit_code == 0, glft.output
    quotes = [line for line in glft.output.splitlines() if "GLFT quote:" in line]
    assert quotes, glft.output
    # Distance from the mid, the remaining size and the time left, on every quote line.
    assert all("from the mid" in q and "PENGU" in q and "s left" in q for q in quotes)
    assert "GLFT fill curve measured on the thin market" in glft.output


def test_the_design_notes_policy_keeps_its_lines() -> None:
    design = runner.invoke(app, [*PURGE, "--market", "dead"])
    assert design.exit_code == 0 and "GLFT" not in design.output
    lines = design.output.splitlines()
    assert lines[1].startswith("  Slice 1: post-only @ $")
    assert lines[1].endswith("TTL=25s → no fill → canceled")


def test_on_a_dead_market_glft_ends_in_the_same_guarded_taker_sale() -> None:
    result = runner.invoke(app, [*PURGE, "--market", "dead", "--policy", "glft", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    taker = out["attempts"][-1]
    assert out["completed"] and taker["order_type"] == "sor_limit_ioc"
    # The design note's IOC: limited at 1 % under the bid, and it filled at or above its limit.
    assert Decimal(taker["price"]) >= Decimal(out["arrival_best_bid"]) * Decimal("0.99")
    assert Decimal(taker["avg_fill_price"]) >= Decimal(taker["price"])


def test_calibrate_saves_dated_curves_that_simulate_reads(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    result = runner.invoke(app, ["calibrate", "--data", "synthetic:thin", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert "observed /s [95 %]" in result.output
    saved = load_curves(path)
    assert saved.measured_at and saved.data == "synthetic:thin"
    [(product, curve)] = saved.curves.items()
    assert curve.fills > 0 and curve.k > 0
    used = runner.invoke(app, [*PURGE, "--product", product, "--market", "thin", "--policy", "glft",
                               "--curves", str(path)])  # fmt: skip
    assert used.exit_code == 0, used.output
    assert f"GLFT fill curve of {product} from {path}" in used.output, used.output


def test_a_missing_curves_file_is_one_line() -> None:
    result = runner.invoke(app, [*PURGE, "--market", "thin", "--policy", "glft", "--curves", "nope.json"])
    assert result.exit_code == 2
    assert "nope.json: no such fill-curves file; write it with `makerfirst calibrate`" in result.output
