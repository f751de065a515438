"""The backtest report explains its units (IS in bps, E, completion) in a legend."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from makerfirst.cli.main import app


def test_the_backtest_report_has_a_legend_for_is_e_and_completion(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    args = ["backtest", "--data", "synthetic:dead", "--episodes", "2", "--report", str(report)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    legend = page.split("<dl class='legend'>", 1)[1].split("</dl>", 1)[0]
    for term in ("<dt>IS (bps)</dt>", "<dt>E</dt>", "<dt>completion</dt>"):
        assert term in legend
    assert "basis points" in legend and "perfect maker" in legend
