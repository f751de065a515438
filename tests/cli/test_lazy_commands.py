"""``makerfirst``'s commands load on first use: a backtest pays for no dashboard, database or exchange
client, and ``--help`` still lists every command with its help."""

from __future__ import annotations

import json
import subprocess
import sys

import typer.main
from typer import _click as click
from typer.testing import CliRunner

from makerfirst.cli.main import COMMANDS, app

# What a backtest never needs: the web stack, the database, the live exchange client.
NOT_FOR_A_BACKTEST = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "ccxt",
    "httpx",
    "websockets",
)


def test_help_lists_every_command_with_its_help() -> None:
    shown = CliRunner().invoke(app, ["--help"])
    assert shown.exit_code == 0
    rows = [ln.strip("│ ") for ln in shown.output.splitlines()]
    for name, spec in COMMANDS.items():
        line = next((row for row in rows if row.startswith(f"{name} ")), None)
        assert line is not None, f"{name} missing from --help"
        assert spec.help.split()[0] in line


def test_every_command_and_group_loads_with_its_own_help() -> None:
    for name, spec in COMMANDS.items():
        shown = CliRunner().invoke(app, [name, "--help"])
        assert shown.exit_code == 0, (name, shown.output)
        assert spec.help.split(":")[0].rstrip(".") in " ".join(shown.output.split()), name
        assert "--install-completion" not in shown.output  # a subcommand is no program of its own


def test_an_unknown_command_is_refused() -> None:
    shown = CliRunner().invoke(app, ["no-such-command"])
    assert shown.exit_code == 2
    assert "No such command" in shown.output


def test_a_backtest_imports_no_web_database_or_exchange_client() -> None:
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from makerfirst.cli.main import app\n"
        "r = CliRunner().invoke(app, ['backtest', '--data', 'synthetic:dead', '--episodes', '1', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"print(json.dumps([m for m in {NOT_FOR_A_BACKTEST!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_a_command_that_needs_the_database_still_gets_it() -> None:
    """The lazy loading moved imports, not behaviour: ``status`` on a missing folder is one line."""
    shown = CliRunner().invoke(app, ["status", "--db", "sqlite:////no/such/folder/x.db"])
    assert shown.exit_code == 2
    assert "does not exist" in shown.output


def test_a_group_of_one_command_stays_a_group() -> None:
    """``db`` holds only ``upgrade``: loaded lazily it still takes ``db upgrade``, as ``add_typer`` did."""
    shown = CliRunner().invoke(app, ["db", "upgrade", "--help"])
    assert shown.exit_code == 0, shown.output
    assert "--db" in shown.output


def _group_help(load_every_command: bool) -> str:
    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="makerfirst")
    if load_every_command:
        for name in COMMANDS:
            group.get_command(ctx, name)  # imported and built, as `makerfirst NAME` does
    return group.get_help(ctx)


def test_help_lists_what_the_loaded_commands_would_show() -> None:
    """The listing comes from :data:`COMMANDS`, not the modules: it must be the listing the loaded
    commands give (their help, panel, hidden and deprecated flags), so the two cannot drift."""
    assert _group_help(load_every_command=False) == _group_help(load_every_command=True)


def test_every_loaded_command_keeps_its_stored_help() -> None:
    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="makerfirst")
    for name, spec in COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None
        assert (command.help or "").splitlines()[0] == spec.help, name
        assert command.short_help is None, name  # the listing would show it instead of the help


def test_help_imports_no_command_module() -> None:
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from makerfirst.cli.main import COMMANDS, app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'backtest' in r.output\n"
        "print(json.dumps(sorted({s.module for s in COMMANDS.values()} & set(sys.modules))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_a_command_help_loads_only_that_command() -> None:
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from makerfirst.cli.main import COMMANDS, app\n"
        "r = CliRunner().invoke(app, ['config', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(json.dumps(sorted({s.module for s in COMMANDS.values()} & set(sys.modules))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["makerfirst.cli.config_cmd"]
