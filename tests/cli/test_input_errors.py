"""Bad input on the command line is one ``error:`` line naming the input and the fix, exit code 2,
never a traceback: every kind of bad ``--db`` URL, a binary ``--data`` file, a truncated ``.gz``."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerfirst.cli.errors import fail
from makerfirst.cli.main import app
from makerfirst.replay.readers import read_capture

runner = CliRunner()


def _assert_one_error_line(result: Any, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output and "Aborted" not in result.output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _missing_driver_url() -> str:
    for url, module in [
        ("mysql+mysqldb://u@127.0.0.1/d", "MySQLdb"),
        ("mssql+pymssql://u@127.0.0.1/d", "pymssql"),
        ("postgresql+asyncpg://u@127.0.0.1/d", "asyncpg"),
    ]:
        if importlib.util.find_spec(module) is None:
            return url
    pytest.skip("every candidate database driver is installed here")


@pytest.fixture(params=["garbage", "empty", "unknown-dialect", "missing-driver", "no-folder", "unwritable",
                        "a-folder", "not-a-database", "postgres-refused"])  # fmt: skip
def bad_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """A bad --db URL and a word its error must contain."""
    kind = request.param
    if kind == "not-a-database":
        junk = tmp_path / "junk.db"
        junk.write_bytes(random.Random(1).randbytes(4096))
        return f"sqlite:///{junk}", "cannot open the database"
    return {
        "garbage": ("garbage", "not a database URL"),
        "empty": ("", "not a database URL"),
        "unknown-dialect": ("foo://x", "knows no database kind 'foo'"),
        "missing-driver": (_missing_driver_url() if kind == "missing-driver" else "", "not installed"),
        "no-folder": (f"sqlite:///{tmp_path}/no/such/folder/x.db", "does not exist"),
        "unwritable": ("sqlite:////proc/makerfirst-test.db", "writable"),  # even root cannot create it
        "a-folder": (f"sqlite:///{tmp_path}", "cannot open the database"),
        "postgres-refused": (
            "postgresql+psycopg://u:s3cret@127.0.0.1:1/d",
            "check that the server is running",
        ),
    }[kind]


def test_a_bad_db_url_fails_run_with_one_line(bad_db: tuple[str, str]) -> None:
    url, words = bad_db
    result = runner.invoke(app, ["run", "--paper", "--fast", "--cycles", "1", "--db", url])
    _assert_one_error_line(result, "--db", words)
    assert "s3cret" not in result.output  # the URL is named, its password is not


def test_a_bad_db_url_fails_status_with_one_line(bad_db: tuple[str, str]) -> None:
    url, words = bad_db
    _assert_one_error_line(runner.invoke(app, ["status", "--db", url]), "--db", words)


def _backtest(path: Path) -> Any:
    return runner.invoke(app, ["backtest", "--data", str(path), "--episodes", "1"])


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKERFIRST_CACHE_DIR", str(tmp_path / "cache"))


def test_a_binary_data_file_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "capture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(2).randbytes(4096))  # what a wrong path may hold
    _assert_one_error_line(_backtest(path), f"{path}:1:", "not UTF-8 text", "Coinbase feed or Binance depth")


def test_binary_bytes_after_good_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.txt"
    ok = json.dumps({"type": "subscriptions", "channels": []})
    path.write_bytes(f"1000.0: {ok}\n1000.5: {ok}\n".encode() + b"\xff\xfe\x00binary\n")
    (tmp_path / "products.txt").write_text("[]")
    _assert_one_error_line(_backtest(path), f"{path}:3:", "not UTF-8 text")


def _binance_lines(count: int) -> str:
    rng = random.Random(7)  # noisy prices: the stream must not compress to nothing
    snapshot = {"lastUpdateId": 1, "bids": [["100.00", "1.00000"]], "asks": [["100.50", "1.00000"]]}
    lines = [f"1000 {json.dumps(snapshot)}"]
    for i in range(count):
        price = f"{100 + rng.randrange(100) / 100:.2f}"
        trade = {"e": "trade", "s": "BTCUSDT", "p": price, "q": f"0.{rng.randrange(1, 99999):05d}", "m": True}
        lines.append(f"{1001 + i} {json.dumps({'stream': 'btcusdt@trade', 'data': trade})}")
    return "\n".join(lines) + "\n"


def test_a_truncated_gz_capture_is_named_with_the_fix_not_aborted(tmp_path: Path) -> None:
    path = tmp_path / "btcusdt.gz"
    path.write_bytes(gzip.compress(_binance_lines(5000).encode()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _assert_one_error_line(_backtest(path), str(path), "truncated or damaged", "again")


def test_a_gz_name_on_a_file_that_is_not_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "capture.gz"
    path.write_text(_binance_lines(3))
    _assert_one_error_line(_backtest(path), str(path), "not a gzip file")


def test_a_damaged_gzip_stream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "capture"
    path.write_bytes(b"\x1f\x8b" + random.Random(3).randbytes(2000))
    _assert_one_error_line(_backtest(path), str(path), "truncated or damaged")


def test_an_unwritable_cache_folder_does_not_stop_reading_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "btcusdt.gz"
    path.write_bytes(gzip.compress(_binance_lines(50).encode()))
    stream = read_capture(path, cache_dir=Path("/proc/makerfirst-no-cache"))  # not even root writes there
    assert len(stream.events) > 0


def test_a_binary_products_file_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "products.bin"
    path.write_bytes(b"\xff\xfe" + random.Random(4).randbytes(512))
    result = runner.invoke(
        app, ["simulate", "purge", "--product", "PENGU-USD", "--size", "1", "--products-file", str(path)]
    )
    _assert_one_error_line(result, str(path), "not UTF-8")


def test_a_long_venue_message_is_one_line_and_never_cuts_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail("<html>\n" + "x " * 2000 + "\n</html>", "fix the key")
    err = capsys.readouterr().err
    assert exit_.exit_code == 2
    assert err.count("\n") == 1 and err.startswith("error: <html> x x") and err.endswith("…; fix the key\n")
    assert len(err) < 500
