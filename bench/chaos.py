"""The chaos bench: randomized purges and rebalances under every fault we know, with crashes at
the worst moments and restarts on the same database; then the venue against the database.

    python bench/chaos.py --runs 1000 --seed 1              # in-process, on the virtual clock
    python bench/chaos.py --processes --runs 50 --seed 1    # a real sim-server, real bot processes,
                                                            # SIGKILL, SQLite (or --db-url PostgreSQL)

Prints one table of incident counts per defect class (and how many runs each hit) and exits 1 if
any count is not zero. The same ``--seed`` gives the same schedule (faults, crash moments,
balances, markets): in-process the whole run repeats exactly, whatever ``--jobs``; with real
processes the schedule does, the wall-clock interleaving does not.

``--examples`` names each incident with the run that found it; ``--only RUN`` reruns that run
alone, and with ``--processes``, ``--keep DIR`` leaves its database, credentials, the server's
log and every life's transcript in ``DIR/run-RUN`` to read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chaos_check import DEFECTS, Counts
from rich.console import Console
from rich.table import Table

PROCESSES_JOBS = 3  # real-process runs mostly wait on wall-clock TTLs and cycles: 3 fit on 2 cores


def table(counts: Counts, title: str) -> Table:
    out = Table(title=title)
    out.add_column("defect")
    out.add_column("count", justify="right")
    out.add_column("runs hit", justify="right")
    out.add_column("what one count is")
    for key, meaning in DEFECTS:
        out.add_row(key.replace("_", " "), str(counts.counts[key]), str(counts.runs_hit[key]), meaning)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="randomized runs (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="the schedule's seed (default 1)")
    parser.add_argument("--processes", action="store_true", help="a real sim-server and real bot processes")
    parser.add_argument(
        "--db-url",
        default=None,
        help="--processes: a PostgreSQL URL instead of SQLite files (every table in it is dropped per run)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at once: in-process, worker processes (default: the CPU count); with --processes,"
        f" runs at once (default {PROCESSES_JOBS}; 1 with --db-url). The table does not depend on it.",
    )
    parser.add_argument("--examples", action="store_true", help="print the first examples of each defect")
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        metavar="RUN",
        help="run only this run index of the seed's schedule (repeatable; an example names its run)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="--processes: keep every run's database, credentials and logs in DIR/run-INDEX",
    )
    args = parser.parse_args(argv)
    if args.only is not None and any(not 0 <= i < args.runs for i in args.only):
        parser.error(f"--only takes run indices from 0 to {args.runs - 1} (--runs {args.runs})")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.keep is not None and not args.processes:
        parser.error(
            "--keep needs --processes (in-process, rerun one run with --only and read it in a debugger)"
        )
    if args.db_url is not None and not args.processes:
        parser.error("--db-url needs --processes (the in-process bench keeps SQLite files)")
    console = Console(width=140)
    started = time.perf_counter()
    if args.processes:
        from chaos_processes import run_many as run_processes  # noqa: PLC0415

        counts = run_processes(
            args.seed,
            args.runs,
            args.db_url,
            progress=_progress,
            jobs=args.jobs or PROCESSES_JOBS,
            only=args.only,
            keep=args.keep,
        )
        variant = "real processes, SIGKILL" + (", PostgreSQL" if args.db_url else ", SQLite")
    else:
        from chaos_inprocess import run_many  # noqa: PLC0415

        jobs = args.jobs or os.cpu_count() or 1
        counts = run_many(args.seed, args.runs, progress=_progress, jobs=jobs, only=args.only)
        variant = "in-process, virtual clock"
    elapsed = time.perf_counter() - started
    if sys.stderr.isatty():
        print(file=sys.stderr)
    runs = (
        f"{counts.runs} runs" if args.only is None else f"run {', '.join(map(str, args.only))} of {args.runs}"
    )
    console.print(table(counts, f"chaos bench: {runs}, seed {args.seed} ({variant}), {elapsed:.0f} s"))
    if args.examples:
        for key, _ in DEFECTS:
            for example in counts.examples.get(key, []):
                console.print(f"  {key}: {example}", markup=False, highlight=False)
    return 1 if counts.total else 0


def _progress(done: int) -> None:
    if sys.stderr.isatty() and done % 10 == 0:
        print(f"\r{done} runs", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
