"""``makerfirst sim-server``: options, the one-line banner, serving until SIGINT/SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from makerfirst.adapters.sim_server.auth import load_credentials, sign_request
from makerfirst.cli.sim_server_cmd import sim_server
from makerfirst.clock import SystemClock

# The command as the CLI's main module registers it, in a process of its own (it serves until
# signalled, and uvicorn only handles signals on the main thread).
SCRIPT = (
    "import typer\n"
    "from makerfirst.cli.sim_server_cmd import sim_server\n"
    "app = typer.Typer()\n"
    "app.callback()(lambda: None)\n"
    'app.command("sim-server")(sim_server)\n'
    "app()\n"
)
B = "/api/v3/brokerage"


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "sim-server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def stop(proc: subprocess.Popen[str], sig: signal.Signals) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the server ignored the signal
            proc.kill()


def test_the_server_prints_its_url_and_key_file_then_serves_until_sigterm(tmp_path: Path) -> None:
    keys, audit = tmp_path / "keys", tmp_path / "audit.jsonl"
    proc, banner = start(
        "--credentials-out", str(keys), "--balance", "PENGU=5000", "--balance", "USD=12.5",
        "--price", "PENGU-USD=0.02", "--market", "thin", "--seed", "3",
        "--faults", "latency=0.001", "--audit-file", str(audit),
    )  # fmt: skip
    try:
        match = re.search(r"(http://\S+) \(market thin, seed 3\); credentials: (\S+)$", banner.strip())
        assert match, banner
        url, key_path = match.group(1), Path(match.group(2))
        assert key_path == keys / "credentials.json" and "PRIVATE" not in banner
        products = httpx.get(url + f"{B}/market/products").json()["products"]
        pengu = next(p for p in products if p["product_id"] == "PENGU-USD")
        assert abs(Decimal(pengu["price"]) - Decimal("0.02")) < Decimal("0.001")
        credentials = load_credentials(key_path)
        token = sign_request(
            credentials, "GET", url.removeprefix("http://") + f"{B}/accounts", SystemClock().now()
        )
        accounts = httpx.get(url + f"{B}/accounts", headers={"Authorization": f"Bearer {token}"}).json()
        balances = {a["currency"]: a["available_balance"]["value"] for a in accounts["accounts"]}
        assert (balances["PENGU"], balances["USD"]) == ("5000", "12.5")
    finally:
        assert stop(proc, signal.SIGTERM) == 0
    assert key_path.exists()  # a key written where asked is kept


def test_without_credentials_options_the_key_lives_in_a_temporary_directory_until_sigint() -> None:
    proc, banner = start()
    try:
        key_path = Path(banner.strip().rsplit("credentials: ", 1)[1])
        assert json.loads(key_path.read_text())["name"].startswith("organizations/")
    finally:
        assert stop(proc, signal.SIGINT) == 0
    assert not key_path.exists()


def test_an_existing_key_file_is_reused(tmp_path: Path) -> None:
    made = tmp_path / "made"
    proc, banner = start("--credentials-out", str(made))
    stop(proc, signal.SIGTERM)
    proc, banner = start("--credentials-in", str(made / "credentials.json"))
    try:
        assert banner.strip().endswith(f"credentials: {made / 'credentials.json'}")
    finally:
        stop(proc, signal.SIGTERM)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "explode=1"], "--faults entry 'explode=1'"),
        (["--balance", "PENGU"], "--balance takes NAME=AMOUNT"),
        (["--price", "PENGU-USD=cheap"], "--price takes NAME=AMOUNT"),
        (["--credentials-in", "a", "--credentials-out", "b"], "not both"),
        (["--market", "sideways"], "unknown market 'sideways'"),
        (["--price", "DOGE-USD=1"], "unknown product(s): DOGE-USD"),
        (["--credentials-in", "/nonexistent/credentials.json"], "cannot read key file"),
    ],
)
def test_bad_options_are_refused_before_serving(args: list[str], message: str) -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("sim-server")(sim_server)
    result = CliRunner().invoke(app, ["sim-server", "--port", "0", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_the_help_documents_the_faults_syntax() -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("sim-server")(sim_server)
    result = CliRunner().invoke(app, ["sim-server", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    for word in (
        "create_timeout",
        "cancel_5xx_after_fill",
        "rate429",
        "error5xx_body",
        "hang=SECONDS",
        "probability",
    ):
        assert word in text, word
