"""The ``makerfirst`` console script: start-up and exit of a short-lived process.

A command is a process that imports a lot and then works briefly: a replay backtest imports
numpy, pydantic, typer and about seventy modules of ours (tens of thousands of objects that live
as long as the process) and then runs for a tenth of a second. Two costs of that are not the
command's work, and :func:`main` leaves them out:

* **The cyclic GC during start-up.** While modules load, the collector walks the growing heap of
  module objects again and again, and none of it is garbage. It is paused until the command's
  module is imported; what was loaded is then moved out of the collector's sight
  (:func:`gc.freeze`, as CPython's docs suggest for what a process keeps to its end), and the
  command runs with the collector on for what it allocates itself.
* **The interpreter's teardown.** After the command returned (its ``with`` blocks closed, its
  ``finally`` clauses run, its output written) and with no other thread left, the exit handlers
  run as usual (logging's shutdown among them) and the process ends with :func:`os._exit`,
  without freeing every module and object one by one, which took 0.06 s of a backtest's 0.39 s.

Only the console script does either: a command invoked in-process (typer's test runner, a caller
of :data:`makerfirst.cli.main.app`) starts and ends as any Python code does.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading

_start_up_paused_gc = False


def main() -> None:
    """Run ``makerfirst`` with the arguments of this process and end it with the command's exit
    code."""
    global _start_up_paused_gc  # noqa: PLW0603 - one flag for the one process
    if gc.isenabled():
        gc.disable()
        _start_up_paused_gc = True
    from makerfirst.cli.main import app  # noqa: PLC0415 - imported with the collector paused

    try:
        app()
    except SystemExit as done:
        _exit(done.code)
    _exit(0)


def command_loaded() -> None:
    """The command's module is imported: freeze what start-up loaded and restart the collector
    (nothing when :func:`main` did not pause it)."""
    global _start_up_paused_gc  # noqa: PLW0603
    if _start_up_paused_gc:
        _start_up_paused_gc = False
        gc.freeze()
        gc.enable()


def _exit(code: str | int | None) -> None:
    """``sys.exit(code)``'s meaning (None: 0; an int; anything else printed to stderr, 1), after
    the exit handlers and with the standard streams flushed, without the interpreter's teardown.
    While another thread still runs, a normal exit instead (it waits for non-daemon threads)."""
    if threading.active_count() > 1:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # what a normal exit runs first: logging's shutdown flushes its handlers
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``makerfirst … | head``) or stream
            status = status or 120  # what CPython exits with when it cannot flush at exit
    os._exit(status)
