"""Bad input to ``makerfirst web`` and ``makerfirst run --web``: one line naming the fix, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerfirst.cli.main import app
from webkit import TOKEN

runner = CliRunner()


def one_line_error(args: list[str], env: dict[str, str]) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.stderr.strip().splitlines()[-1:]
    return line


def test_web_without_a_token_says_where_to_put_one(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    db.write_bytes(b"")
    line = one_line_error(["web", "--db", f"sqlite:///{db}"], {"MAKERFIRST_WEB_TOKEN": ""})
    assert line.startswith("error: the dashboard needs a token: set MAKERFIRST_WEB_TOKEN")


def test_web_over_a_missing_database_file_says_to_run_first(tmp_path: Path) -> None:
    line = one_line_error(
        ["web", "--db", f"sqlite:///{tmp_path / 'typo.db'}"], {"MAKERFIRST_WEB_TOKEN": TOKEN}
    )
    assert "no such file; run `makerfirst run --db" in line


@pytest.mark.parametrize("bind", ["127.0.0.1:http", "127.0.0.1:70000"])
def test_run_with_a_bad_web_address_refuses_before_trading(tmp_path: Path, bind: str) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["run", "--paper", "--fast", "--cycles", "1", "--db", db, "--web", bind]
    line = one_line_error(args, {"MAKERFIRST_WEB_TOKEN": TOKEN})
    assert line == f"error: --web expects HOST:PORT, e.g. 127.0.0.1:8801, got {bind!r}"
    assert not (tmp_path / "x.db").exists() or "cycles" not in (tmp_path / "x.db").read_bytes().decode(
        "latin-1"
    )


def test_run_with_a_taken_web_port_refuses_before_trading(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        args = ["run", "--paper", "--fast", "--cycles", "1", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        line = one_line_error([*args, "--web", f"127.0.0.1:{port}"], {"MAKERFIRST_WEB_TOKEN": TOKEN})
    assert line.startswith(f"error: --web 127.0.0.1:{port}: cannot listen there")
    assert not (tmp_path / "x.db").exists()
