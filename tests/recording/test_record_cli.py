"""``makerfirst record`` against the sim-server's feed, then ``makerfirst backtest`` on what it wrote.

The sim-server computes each ticker from the same book as the level2 update before it, so a file
whose every ticker matches the rebuilt book replays to the books the server had.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from makerfirst.adapters.sim_server.testing import running_server
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.replay.book_check import rebuild_check
from makerfirst.replay.readers import decode_capture

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
RECORD_SEC = "4s"


def _record(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAKERFIRST, "record", *args], capture_output=True, text=True, timeout=60, check=False
    )


def _lines(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line.partition(": ")[2]) for line in handle]


def test_a_recorded_feed_replays_to_the_servers_books_with_zero_mismatches(tmp_path: Path) -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server:
        done = _record(
            [
                "--products", "BTC-USD,ETH-USD", "--duration", RECORD_SEC, "--out", str(tmp_path),
                "--ws-url", f"{server.ws_url}/ws", "--api-url", server.url,
            ]
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "0 gaps, 0 tickers off the book" in done.stdout
    (capture,) = tmp_path.glob("coinbase-*.txt.gz")
    assert (tmp_path / "products.txt").is_file()
    kinds = [m["type"] for m in _lines(capture)]
    assert kinds.count("snapshot") == 2 and {"l2update", "match", "ticker"} <= set(kinds)

    check = rebuild_check(decode_capture(capture))
    assert check.ok, check.first_problem
    assert check.messages_compared > 10

    backtest = subprocess.run(
        [*MAKERFIRST, "backtest", "--data", str(capture), "--policies", "market_sell", "--episodes", "1",
         "--mode", "replay", "--deadline", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert backtest.returncode == 0, backtest.stderr
    expected = f"book rebuild check: {check.messages_compared} compared, 0 mismatches, 0 crossed"
    assert expected in backtest.stdout


def test_gaps_are_marked_and_resynchronised_with_a_fresh_snapshot(tmp_path: Path) -> None:
    lossy = FeedFaults(drop=0.05, seed=2)
    with running_server(market="liquid", balances={"USD": "1"}, feed_faults=lossy) as server:
        done = _record(
            [
                "--products", "BTC-USD", "--duration", RECORD_SEC, "--out", str(tmp_path),
                "--ws-url", server.ws_url, "--api-url", server.url,
            ]
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (capture,) = tmp_path.glob("coinbase-*.txt.gz")
    messages = _lines(capture)
    gaps = [i for i, m in enumerate(messages) if m["type"] == "gap"]
    assert gaps, "a 5 % drop rate over seconds of feed loses some messages"
    for i in gaps:  # after a gap nothing of the book until its fresh snapshot
        after = next(m for m in messages[i + 1 :] if m["type"] != "gap")
        assert after["type"] == "snapshot"
    check = rebuild_check(decode_capture(capture))
    assert check.ok, check.first_problem


def test_rotation_starts_each_file_with_a_snapshot_of_every_book(tmp_path: Path) -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server:
        done = _record(
            [
                "--products", "BTC-USD,ETH-USD", "--duration", RECORD_SEC, "--rotate", "1.5s",
                "--out", str(tmp_path), "--ws-url", server.ws_url, "--api-url", server.url,
            ]
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("coinbase-*.txt.gz"))
    assert len(files) >= 2
    for path in files:
        first_two = _lines(path)[:2]
        assert {(m["type"], m["product_id"]) for m in first_two} == {
            ("snapshot", "BTC-USD"),
            ("snapshot", "ETH-USD"),
        }
        check = rebuild_check(decode_capture(path))
        assert check.ok, (path, check.first_problem)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--products", "BTCUSD"], "--products"),
        (["--products", "BTC-USD", "--duration", "soon"], "--duration"),
        (["--products", "BTC-USD", "--rotate", "0"], "--rotate"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    done = _record(args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_product_is_a_one_line_error(tmp_path: Path) -> None:
    with running_server(balances={"USD": "1"}) as server:
        done = _record(
            ["--products", "NOPE-USD", "--duration", "1s", "--out", str(tmp_path),
             "--ws-url", server.ws_url, "--api-url", server.url]
        )  # fmt: skip
    assert done.returncode == 2
    assert "NOPE-USD" in done.stderr and "Traceback" not in done.stderr
