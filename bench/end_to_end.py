"""``makerfirst backtest`` on the BTCUSDT capture, end to end, against the same command at an older
commit, in one run: wall time of the whole process (start, imports, work, exit), runs alternated.

The old command is the source tree of ``--baseline`` (default 5976544, the last commit before the
backtest replayed on the compiled book) unpacked by ``git archive`` into a temporary folder and run
with ``PYTHONPATH`` in this environment; the new one is this checkout's console script. Both run
``backtest --data <capture> --mode replay --json`` (all four policies), after warm-up runs that
fill their decode caches, write their bytecode and build the kernels. The JSON of both is compared,
less what the old commit did not report yet (the ``replay`` counts, ``taker_leg``). Two more rows
give the floor: an empty interpreter, and one that only imports numpy, typer, asyncio and yaml
and validates one pydantic model.

    .venv/bin/python bench/end_to_end.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTURE = Path("binance-btcusdt-2024-08-08") / "btcusdt_20240808.gz"
FLOOR = (
    "import numpy, typer, asyncio, yaml, json\n"
    "from pydantic import BaseModel\n"
    "class A(BaseModel):\n    x: int = 1\n"
    "A(x=2)\n"
)


def unpack(revision: str, into: Path) -> Path:
    git = ["git", "-C", str(REPO), "archive", revision, "src"]
    archive = subprocess.run(git, check=True, capture_output=True).stdout  # noqa: S603 - git on PATH
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)  # noqa: S603 - ours
    return time.perf_counter() - started, done.stdout


def comparable(payload: str) -> object:
    """The JSON less what the old commit did not report yet (and the path it was given)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("replay", "taker_leg", "data")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(payload))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warm-up", type=int, default=2)
    parser.add_argument("--baseline", default="5976544")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("MAKERFIRST_DATA_DIR", REPO.parent / "shared" / "data"))
    data = data_dir / CAPTURE
    if not data.is_file():
        raise SystemExit(f"no capture at {data}: set MAKERFIRST_DATA_DIR to the shared data folder")
    argv = ["backtest", "--data", str(data), "--mode", "replay", "--json"]
    script = Path(sys.executable).parent / "makerfirst"
    # Both trees may write and then read their bytecode (the warm-up writes it), as an install does.
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="makerfirst-baseline-") as tmp:
        old_src = unpack(args.baseline, Path(tmp))
        old_env = base_env | {"PYTHONPATH": str(old_src)}
        launch_old = (
            f"import sys; sys.argv = ['makerfirst', *{argv!r}]\nfrom makerfirst.cli.main import app\napp()"
        )
        commands = {
            f"makerfirst backtest at {args.baseline}": ([sys.executable, "-c", launch_old], old_env),
            "makerfirst backtest (this checkout)": ([str(script), *argv], base_env),
            "python -c pass": ([sys.executable, "-c", "pass"], base_env),
            "imports alone: numpy, pydantic (one model), typer, asyncio, yaml": (
                [sys.executable, "-c", FLOOR],
                base_env,
            ),
        }
        outputs: dict[str, str] = {}
        for name, (command, env) in commands.items():
            for _ in range(args.warm_up):
                outputs[name] = timed(command, env)[1]
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, env) in commands.items():
                times[name].append(timed(command, env)[0])
    old_name, new_name = list(commands)[:2]
    same = comparable(outputs[old_name]) == comparable(outputs[new_name])
    new_mean = statistics.fmean(times[new_name])
    python = sys.version.split()[0]
    print(
        f"{args.runs} runs each, alternated, after {args.warm_up} warm-up runs; {data.name}; Python {python}"
    )
    print(f"{'command':<66}{'mean s':>8}{'sd s':>7}{'min s':>7}{'mean / this checkout':>22}")
    for name, seconds in times.items():
        mean = statistics.fmean(seconds)
        sd = statistics.stdev(seconds) if len(seconds) > 1 else 0.0
        print(f"{name:<66}{mean:8.3f}{sd:7.3f}{min(seconds):7.3f}{mean / new_mean:21.2f}x")
    print(f"same results (JSON less replay counts, taker_leg, data path): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
