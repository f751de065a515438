"""The backtest report's per-product fill-curve section (glft): the fitted Λ(δ) against the observed
fill frequencies with 95 % intervals and n per point, in the HTML and drawn by a real headless
Chromium (Debian's ``chromium``, driven by Playwright; skipped where it is not installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.replay.fill_curve import DISTANCES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    args = ["backtest", "--data", "synthetic:thin", "--episodes", "2", "--policies", "design_note,glft"]
    result = CliRunner().invoke(app, [*args, "--report", str(path)])
    assert result.exit_code == 0, result.output
    return path


def section_data(page: str, product: str) -> list[dict[str, object]]:
    """The plotly traces of ``product``'s fill-curve section."""
    section = page.split(f"<section class='fill-curve' data-product='{product}'>", 1)[1].split(
        "</section>", 1
    )[0]
    match = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", section, re.S)
    assert match, "no plotly figure in the section"
    traces = json.loads(match.group(1))
    assert isinstance(traces, list)
    return traces


def test_each_product_has_its_curve_against_the_observed_rates_with_intervals_and_n(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert "<h2 id='fill-curves'>Fill curves per product (glft)</h2>" in page
    observed, fitted = section_data(page, "PENGU-USD")
    assert observed["name"] == "observed fills / s of exposure" and fitted["name"] == "fitted A·e^(−kδ)"
    xs, ys = observed["x"], observed["y"]
    assert isinstance(xs, list) and isinstance(ys, list) and set(xs) <= set(DISTANCES) and len(xs) >= 5
    errors = observed["error_y"]
    assert isinstance(errors, dict)
    # Each point's interval brackets it, and says how many virtual asks it stands on.
    assert all(hi >= 0 and lo >= 0 for hi, lo in zip(errors["array"], errors["arrayminus"], strict=True))
    assert all(re.fullmatch(r"n=\d+", t) and int(t[2:]) > 0 for t in observed["text"])  # type: ignore[union-attr]
    # The fitted line falls with the distance, as A·e^(−kδ) does.
    fit_y = fitted["y"]
    assert isinstance(fit_y, list) and fit_y[0] > fit_y[-1] > 0


def test_a_report_without_glft_has_no_curve_section(tmp_path: Path) -> None:
    path = tmp_path / "plain.html"
    args = ["backtest", "--data", "synthetic:dead", "--episodes", "1", "--policies", "design_note"]
    result = CliRunner().invoke(app, [*args, "--report", str(path)])
    assert result.exit_code == 0, result.output
    assert "fill-curve" not in path.read_text(encoding="utf-8")


def test_calibrate_writes_the_same_section(tmp_path: Path) -> None:
    page = tmp_path / "curves.html"
    args = ["calibrate", "--data", "synthetic:thin", "--out", str(tmp_path / "c.json"), "--report", str(page)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    observed, _ = section_data(page.read_text(encoding="utf-8"), "PENGU-USD")
    assert len(observed["x"]) >= 5  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ]
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        yield chromium
        chromium.close()


def test_chromium_draws_the_points_their_intervals_and_the_fitted_line(
    browser: object, report: Path, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page.goto(report.as_uri())
    section = page.locator("section.fill-curve[data-product='PENGU-USD']")
    section.locator(".main-svg").first.wait_for()
    points = section.locator(".scatterlayer .trace").first.locator("path.point")
    assert points.count() >= 5
    assert section.locator(".errorbar").count() == points.count()
    assert section.locator(".scatterlayer .trace .js-line").count() >= 1  # the fitted curve
    assert "n=" in section.inner_text()
    artifacts = Path(os.environ.get("MAKERFIRST_ARTIFACTS_DIR") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(artifacts / "fill-curve.png"))
    page.close()
