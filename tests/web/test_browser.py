"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright; no
browser is ever downloaded): sign-in, the overview's plots, a purge's attempts, live updates while
a real-time paper bot runs, and the kill switch pressed in the page."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from webkit import MAKERFIRST, TOKEN, Served, free_port, wait_until_serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def sign_in(page: object, base: str) -> None:
    refused = page.goto(base + "/")  # type: ignore[attr-defined]
    assert refused.status == 401
    page.fill("#token", TOKEN)  # type: ignore[attr-defined]
    page.click("#login-button")  # type: ignore[attr-defined]
    page.wait_for_selector("#content h1:has-text('Overview')")  # type: ignore[attr-defined]


def test_the_overview_draws_its_plots_and_a_purge_shows_its_attempts(
    browser: object, dashboard: Served, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    sign_in(page, dashboard.base)
    page.wait_for_selector("#equity-plot .main-svg")
    page.wait_for_selector("#utilization-plot .main-svg")
    text = page.inner_text("#content")
    assert "PENGU-USD" in text and "SHIB" in text and "40.0%" in text and "30.0%" in text
    artifacts = Path(os.environ.get("MAKERFIRST_ARTIFACTS_DIR") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    page.goto(dashboard.base + "/purges")
    page.wait_for_selector("[id^='timeline-'] .main-svg")
    pengu = page.locator("section.run", has_text="PENGU-USD")
    assert pengu.locator("table.attempts tbody tr").count() == 3
    assert pengu.locator("td.kind").all_inner_texts() == ["maker", "maker", "taker"]
    page.close()


def test_a_page_opened_without_the_token_shows_only_the_sign_in(browser: object, dashboard: Served) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    answer = page.goto(dashboard.base + "/holdings")
    assert answer.status == 401 and page.locator("#token").count() == 1
    assert "BTC" not in page.inner_text("body")
    page.close()


@pytest.fixture
def live_bot(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """``makerfirst run --paper --web``: the demo portfolio in real time, 20 one-second cycles (long
    enough for a slow machine to reach the kill switch while cycles still run)."""
    port, db = free_port(), f"sqlite:///{tmp_path / 'live.db'}"
    env = {**os.environ, "MAKERFIRST_WEB_TOKEN": TOKEN}
    command = [*MAKERFIRST, "run", "--paper", "--cycles", "20", "--cycle-sec", "1", "--db", db]
    command += ["--web", f"127.0.0.1:{port}", "--log-file", str(tmp_path / "bot.log")]
    with (tmp_path / "bot.out").open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, process)
            yield base, db, process
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)


def test_the_dashboard_follows_a_running_bot_and_its_kill_switch_stops_it(
    browser: object, live_bot: tuple[str, str, subprocess.Popen[bytes]]
) -> None:
    base, _db, process = live_bot
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    page = browser.new_page()  # type: ignore[attr-defined]
    sign_in(page, base)
    first = int(page.inner_text("#cycle-count"))
    # The page is not reloaded: the server's events make it fetch its content again.
    page.wait_for_function(
        f"Number(document.getElementById('cycle-count').innerText) > {first}", timeout=20_000
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    give_up = time.monotonic() + 20
    while not api.get("/api/v1/orders").json() and time.monotonic() < give_up:  # PENGU rests 25 s (dead book)
        time.sleep(0.2)
    assert api.get("/api/v1/orders").json(), "no resting order to cancel"

    page.goto(base + "/control")
    page.fill("#reason", "browser drill")
    page.fill("#confirm", "KILL")
    page.click("#kill-button")
    page.wait_for_selector("#state.paused")
    assert api.get("/api/v1/orders").json() == []  # cancelled and confirmed before the page came back
    audit = api.get("/api/v1/control").json()["audit"]
    assert audit[0]["action"] == "kill_switch" and '"open_orders_left": 0' in audit[0]["detail"]
    orders_at_kill = len(api.get("/api/v1/purges").json())
    cycles_at_kill = api.get("/api/v1/overview").json()["cycles"]
    give_up = time.monotonic() + 20
    while api.get("/api/v1/overview").json()["cycles"] <= cycles_at_kill + 1 and time.monotonic() < give_up:
        time.sleep(0.2)
    later = api.get("/api/v1/overview").json()
    assert later["cycles"] > cycles_at_kill + 1 and later["open_orders"] == 0
    assert all(c["intents"] == 0 for c in later["cycle_series"][cycles_at_kill:])
    assert len(api.get("/api/v1/purges").json()) == orders_at_kill
    page.close()
    assert process.wait(timeout=60) == 0  # the bot ends cleanly once its cycles are done
