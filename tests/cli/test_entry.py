"""The console script ends a command without the interpreter's teardown: the command's output and
exit code arrive whole, exit handlers still run, and the command runs with the collector on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"
# A process started as the console script starts, with an exit handler of its own registered
# before the command (as logging's is) and one line of what the collector looks like to the command.
SCRIPT = textwrap.dedent(
    """
    import atexit, gc, sys
    marker = sys.argv[1]
    atexit.register(lambda: open(marker, "w").write("handler ran"))
    sys.argv = ["makerfirst", *sys.argv[2:]]
    from makerfirst.cli.entry import main
    main()
    """
)


def run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    marker = tmp_path / "atexit.txt"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, marker


def test_a_valid_policy_prints_ok_exits_0_and_the_exit_handlers_ran(tmp_path: Path) -> None:
    done, marker = run(tmp_path, "config", "validate", str(POLICY))
    assert (done.returncode, done.stdout.strip()) == (0, "ok")
    assert marker.read_text() == "handler ran"


def test_the_commands_exit_code_and_its_error_line_come_through(tmp_path: Path) -> None:
    done, marker = run(tmp_path, "backtest", "--data", str(tmp_path / "absent.gz"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: no capture at {tmp_path / 'absent.gz'} (or use --data synthetic:<preset>)"
    )
    assert marker.read_text() == "handler ran"


def test_a_long_output_into_a_pipe_arrives_whole(tmp_path: Path) -> None:
    done, _ = run(tmp_path, "backtest", "--data", "synthetic:thin", "--episodes", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("}") and '"metrics"' in done.stdout


def test_the_command_runs_with_the_collector_on_and_start_up_frozen_out_of_it(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import gc, sys
        from makerfirst.cli import entry, main as cli
        seen = []
        loaded = cli.load_command
        def load_and_watch(name, spec):
            command = loaded(name, spec)
            seen.append(gc.isenabled())  # still paused while the command's module loads
            return command
        cli.load_command = load_and_watch
        original = entry.command_loaded
        def after():
            original()
            seen.append((gc.isenabled(), gc.get_freeze_count() > 1000))
            print(seen, file=sys.stderr)
        cli.command_loaded = after
        sys.argv = ["makerfirst", "config", "validate", sys.argv[1]]
        entry.main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(POLICY)], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[False, (True, True)]"


def test_a_thread_still_running_at_the_end_is_waited_for(tmp_path: Path) -> None:
    """A command that left a non-daemon thread working exits as Python does: after the thread."""
    script = textwrap.dedent(
        """
        import sys, threading, time
        from makerfirst.cli.entry import main
        marker = sys.argv[1]
        def finish_later():
            time.sleep(0.3)
            open(marker, "w").write("thread finished")
        threading.Thread(target=finish_later).start()
        sys.argv = ["makerfirst", "config", "validate", sys.argv[2]]
        main()
        """
    )
    marker = tmp_path / "thread.txt"
    done = subprocess.run(
        [sys.executable, "-c", script, str(marker), str(POLICY)],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "ok")
    assert marker.read_text() == "thread finished"
