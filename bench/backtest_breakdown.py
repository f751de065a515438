"""Where ``makerfirst backtest --data <BTCUSDT capture> --mode replay --json`` spends its time, phase
by phase, in one process with a warm decode cache (run it twice: the first run fills the caches).

Phases: the command's imports (``cli.main`` and the backtest command's modules: numpy, pydantic
and the policy models, typer, the replay package and the compiled book's kernels), with the
collector paused and then frozen as the console script does (``cli/entry.py``), reading the
decoded capture and its rebuild check from the cache, the plan (episodes, the tape's columns, the
checkpoint pass), the (episode, policy) replays, the statistics (bootstrap and Wilson intervals,
the paired comparison) and the JSON. Not in the table: the interpreter's own start (``python -c
pass``, about 0.01 s) and its teardown, which the console script skips.

    .venv/bin/python bench/backtest_breakdown.py
"""

from __future__ import annotations

import gc
import time

started = time.perf_counter()
gc.disable()  # as cli/entry.py does until the command's module is loaded

import json  # noqa: E402 - the imports are what is timed
import logging  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import makerfirst.cli.backtest_cmd  # noqa: E402 - what `makerfirst backtest` imports
import makerfirst.cli.main  # noqa: E402, F401
from makerfirst import bootstrap  # noqa: E402
from makerfirst.replay import backtest as bt  # noqa: E402
from makerfirst.replay.readers import read_checked_capture  # noqa: E402

CAPTURE = Path("binance-btcusdt-2024-08-08") / "btcusdt_20240808.gz"


def main() -> None:
    imported = time.perf_counter()
    gc.freeze()
    gc.enable()
    logging.getLogger("makerfirst").setLevel(logging.ERROR)  # the engine's transcript, as the CLI does
    root = Path(
        os.environ.get("MAKERFIRST_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    data = root / CAPTURE
    options = bt.SimOptions(replay_venues=bootstrap.build_replay_venues())
    config = bt.BacktestConfig(data=str(data), modes=(bt.Mode.REPLAY,), options=options)
    stream, check = read_checked_capture(data)
    read = time.perf_counter()
    plan = bt.plan_stream(config, stream, check, None)
    planned = time.perf_counter()
    result = bt.run_backtest(config, plan=plan)
    ran = time.perf_counter()
    bt.summarize_results(result.results, [p.name for p in config.policies], seed=config.seed)
    stats = time.perf_counter() - ran  # run_backtest computed them once too: subtracted below
    json.dumps(bt.backtest_json(result, config), indent=2)
    done = time.perf_counter()
    count = result.replay
    assert count is not None
    phases = [
        ("imports (cli.main + the backtest command's modules)", imported - started, ""),
        ("decoded capture + rebuild check, from the cache", read - imported, ""),
        (
            "plan (episodes, tape columns, checkpoint pass)",
            planned - read,
            f" (the pass: {count.catch_up_seconds:.3f} s)",
        ),
        (f"{count.runs} (episode, policy) replays", ran - planned - stats, ""),
        ("statistics (bootstrap/Wilson intervals, paired)", stats, ""),
        ("JSON", done - ran - stats, ""),
        ("total in this process", done - started, ""),
    ]
    for label, seconds, note in phases:
        print(f"{label + ':':<54}{seconds:6.3f} s{note}")


if __name__ == "__main__":
    main()
