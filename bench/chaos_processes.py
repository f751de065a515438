"""The chaos bench with real processes: a ``makerfirst sim-server`` process with ``--faults``, and
``makerfirst run`` processes against it (ccxt, real JWTs, real HTTP), SIGKILLed at a random moment
or right after an order rests, an IOC is sent or a fill lands (watched on ``GET /audit``), then
restarted on the same database until one finishes. Then ``/audit`` and ``/accounts`` against the
database. One run in five is ``makerfirst run --paper`` in real time instead (the simulator inside
the bot): killed and restarted the same way, and judged on its own database (nothing may be sold
twice).

With ``--db-url`` (PostgreSQL), every table in that database is dropped before each run.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos_check import (
    OPEN_STATUSES,
    Counts,
    compare,
    holdings_above,
    read_journal,
    sold_beyond_held,
    target_misses,
)
from sqlalchemy import MetaData, create_engine

from makerfirst.adapters.sim_server.auth import load_credentials, sign_request
from makerfirst.policy import default_policy_path, load_policy
from makerfirst.policy.models import RebalancePolicy

MAKERFIRST = [sys.executable, "-c", "from makerfirst.cli.entry import main; main()"]
PREFIX = "/api/v3/brokerage"
CYCLE_SEC = 4
LIFE_TIMEOUT_SEC = 90.0
SERVER_START_SEC = 30.0
BENCH_READ_ATTEMPTS = 5
KILL_MOMENTS = ("time", "rest", "ioc", "fill")
LAST_LIFE_CYCLES = 4
# A rebalance's last life is followed by more (restarts without a kill, exit 0 expected) while a
# target is outside its band, up to this many lives in all: 6 × 4 cycles of 4 s, about 100 s.
SETTLING_LIVES = 6
FAST = [
    "execution.maker_max_ttl_sec=3",
    "execution.maker_first_min_ttl_sec=2",
    "execution.maker_retry_min_ttl_sec=2",
    "execution.order_poll_interval_sec=0.5",
    "execution.gtd_grace_sec=2",
    "execution.cancel_confirm_timeout_sec=5",
    "guards.failed_order_cooldown_sec=5",
    "portfolio_management.purge_execution.maker_ttl_sec=2",
    "portfolio_management.purge_execution.maker_first_ttl_sec=2",
    "portfolio_management.purge_execution.maker_retry_ttl_sec=1",
    "portfolio_management.purge_backoff={base_delay_sec: 10, max_delay_sec: 30}",
]
REBALANCE = ["portfolio_management.tiers.overrides={BTC: T1, ETH: T1}"]


@dataclass(frozen=True)
class Plan:
    kind: str  # purge, rebalance, paper
    market: str
    balances: dict[str, Decimal]
    faults: str
    kills: list[tuple[str, float]]  # (moment, seconds after start at the latest)


def draw_plan(seed: int, index: int) -> Plan:
    rng = random.Random(f"chaos-processes:{seed}:{index}")
    kind = rng.choice(["purge", "purge", "rebalance", "rebalance", "paper"])
    if kind == "purge":
        market = rng.choice(["dead", "thin"])
        balances = {"PENGU": Decimal(rng.choice([1116, 3000])), "ZK": Decimal(400), "USD": Decimal(100)}
    else:
        market = "liquid"
        balances = {
            "BTC": Decimal(rng.randint(0, 2000)) / Decimal(100_000),
            "ETH": Decimal(rng.randint(100, 800)) / Decimal(1000),
            "USD": Decimal(rng.randint(300, 2500)),
            "PENGU": Decimal(rng.choice([0, 1116])),
        }
    entries = [f"seed={index}", f"latency={rng.choice([0, 0.02, 0.1])}"]
    entries += [f"rate429={rng.choice([0, 2, 5, 0.02])}", f"error5xx={rng.choice([0, 1, 3])}"]
    entries += [f"error5xx_body={rng.choice(['html', 'json'])}", f"create_timeout={rng.choice([0, 1, 2])}"]
    entries += [f"cancel_5xx_after_fill={rng.choice([0, 1, 2])}", f"error5xx@fills={rng.choice([0, 0, 3])}"]
    entries += ["hang=10.5", f"stall={rng.choice([0, 0, 0, 1])}"]  # ccxt gives up after 10 s
    kills = [(rng.choice(KILL_MOMENTS), rng.uniform(1.0, 12.0)) for _ in range(rng.choice([1, 1, 2]))]
    return Plan(kind, market, balances, ",".join(entries), kills)


class Server:
    """A ``makerfirst sim-server`` process on a free port, with fresh credentials."""

    def __init__(self, plan: Plan, seed: int, directory: Path) -> None:
        balances = [f"--balance={c}={a}" for c, a in plan.balances.items()]
        # Its output goes to files: uvicorn logs every request, and a pipe nobody drains fills up
        # and stops the server mid-run.
        out = directory / "server.out"
        with out.open("w") as stdout, (directory / "server.err").open("w") as stderr:
            self._process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments we built
                [*MAKERFIRST, "sim-server", "--port", "0", "--market", plan.market, "--seed", str(seed),
                 *balances, "--credentials-out", str(directory), "--faults", plan.faults],
                stdout=stdout, stderr=stderr,
            )  # fmt: skip
        give_up = time.monotonic() + SERVER_START_SEC
        banner = ""
        while "http://" not in banner:
            if self._process.poll() is not None or time.monotonic() > give_up:
                self.stop()
                raise RuntimeError(
                    f"the sim-server did not start: {(directory / 'server.err').read_text()!r}"
                )
            time.sleep(0.05)
            banner = out.read_text().split("\n", 1)[0]
        self.url = banner.split("http://", 1)[1].split(" ", 1)[0].rstrip(";")
        self.credentials_path = directory / "credentials.json"
        self._credentials = load_credentials(self.credentials_path)

    def get(self, path: str, *, private: bool = False) -> Any:
        """One GET; the bench's own reads go through the server's faults too (429, 503, stalls),
        so they are tried again, with a fresh JWT each time, before the run is given up."""
        for attempt in range(BENCH_READ_ATTEMPTS):
            headers = {}
            if private:
                target = self.url + path.split("?", 1)[0]
                headers["Authorization"] = (
                    f"Bearer {sign_request(self._credentials, 'GET', target, time.time())}"
                )
            request = urllib.request.Request(f"http://{self.url}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our 127.0.0.1 server
                    return json.loads(answer.read())
            except (urllib.error.HTTPError, http.client.RemoteDisconnected, ConnectionResetError):
                if attempt == BENCH_READ_ATTEMPTS - 1:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def audit(self) -> dict[str, Any]:
        audit: dict[str, Any] = self.get("/audit")
        return audit

    def stop(self) -> None:
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _bot(plan: Plan, server: Server | None, db: str, cycles: int, seed: int) -> list[str]:
    args = [*MAKERFIRST, "run", "--cycles", str(cycles), "--cycle-sec", str(CYCLE_SEC), "--db", db]
    sets = [*FAST] + (REBALANCE if plan.kind != "purge" else ["purge=[PENGU, ZK]"])
    if server is None:  # paper, real time: the demo policy and the plan's balances
        args += ["--paper", "--seed", str(seed), *(f"--balance={c}={a}" for c, a in plan.balances.items())]
    else:
        args += ["--exchange", "coinbase", "--api-url", f"http://{server.url}"]
        args += ["--credentials", str(server.credentials_path)]
        if plan.kind == "rebalance":
            args += ["--policy", str(default_policy_path("demo-policy.yaml"))]
    for entry in sets:
        args += ["--set", entry]
    return args


def _moment_reached(moment: str, before: dict[str, Any], audit: dict[str, Any]) -> bool:
    """Has this life reached its kill moment? Judged against the audit at the life's start, so an
    order a previous life left resting is not this life's moment."""
    old = {o["order_id"] for o in before["orders"]}
    new = [o for o in audit["orders"] if o["order_id"] not in old]
    if moment == "rest":
        return any(o["status"] == "OPEN" for o in new)
    if moment == "ioc":
        return any("sor_limit_ioc" in o["order_configuration"] for o in new)
    if moment == "fill":
        return len(audit["fills"]) > len(before["fills"])
    return False


def _watch_overlaps(audit: dict[str, Any], seen: set[tuple[str, str]], counts: Counts) -> None:
    """Two sell orders of one product open at the venue at once: the holding is being sold twice."""
    resting: dict[str, list[str]] = {}
    for o in audit["orders"]:
        if o["status"] in OPEN_STATUSES and o["side"] == "SELL":
            resting.setdefault(o["product_id"], []).append(o["client_order_id"])
    for product, ids in resting.items():
        pair = (product, ",".join(sorted(ids)))
        if len(ids) > 1 and pair not in seen:
            seen.add(pair)
            counts.add("double_sells", f"{product}: {', '.join(ids)} open at once")


def _life(
    argv: list[str],
    *, server: Server | None, kill: tuple[str, float] | None, counts: Counts,
    seen: set[tuple[str, str]], name: str, final: bool, logs: Path,
) -> None:  # fmt: skip
    """One bot process. Its transcript and stderr stay in ``logs``.out/.err (kept with --keep)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("w+b") as err:
        bot = subprocess.Popen(argv, env=env, stdout=out, stderr=err)  # noqa: S603 - our CLI
        started = time.monotonic()
        at_start = server.audit() if server is not None else None
        killed = False
        while bot.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > LIFE_TIMEOUT_SEC:
                bot.kill()
                counts.add("crashes", f"{name}: still running after {LIFE_TIMEOUT_SEC:.0f} s")
                killed = True
                break
            audit = server.audit() if server is not None else None
            if audit is not None:
                _watch_overlaps(audit, seen, counts)
            if kill is not None:
                moment, latest = kill
                hit = elapsed >= latest
                if audit is not None and at_start is not None:
                    hit |= _moment_reached(moment, at_start, audit)
                if hit:
                    bot.send_signal(signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.02)
        code = bot.wait(timeout=30)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if "Traceback" in stderr:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        counts.add("crashes", f"{name}: traceback: {lines[-1] if lines else '?'}")
    elif not killed and (code != 0 if final else code not in (0, 2)):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        counts.add("crashes", f"{name}: exit {code}: {lines[-1] if lines else ''}")


def _fresh_database(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


def run_one(seed: int, index: int, workdir: Path, db_url: str | None) -> Counts:
    """Run ``index`` of ``seed``. Everything it leaves (the SQLite database, the credentials, the
    server's and each life's output) is in ``workdir``/run-INDEX."""
    plan = draw_plan(seed, index)
    counts = Counts(runs=1)
    directory = workdir / f"run-{index}"
    directory.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        path = directory / "bot.db"
        path.unlink(missing_ok=True)
        db = f"sqlite:///{path}"
    else:
        db = db_url
        _fresh_database(db)
    server: Server | None = None
    seen: set[tuple[str, str]] = set()
    try:
        if plan.kind != "paper":
            server = Server(plan, seed * 1000 + index, directory)
        for n, kill in enumerate(plan.kills):
            _life(
                _bot(plan, server, db, 3, seed),
                server=server,
                kill=kill,
                counts=counts,
                seen=seen,
                name=f"life {n + 1}",
                final=False,
                logs=directory / f"life-{n + 1}",
            )

        def settling_life(n: int) -> None:
            _life(
                _bot(plan, server, db, LAST_LIFE_CYCLES, seed),
                server=server,
                kill=None,
                counts=counts,
                seen=seen,
                name="last life" if n == 1 else f"settling life {n}",
                final=True,
                logs=directory / ("life-last" if n == 1 else f"life-settle-{n}"),
            )

        if plan.kind == "rebalance" and server is not None:
            venue = server
            counts.merge_incidents(settle(settling_life, lambda: rebalance_misses(venue), SETTLING_LIVES))
        else:
            settling_life(1)
        _judge(plan, server, db, counts)
    except Exception as failed:
        frame = traceback.extract_tb(failed.__traceback__)[-1] if failed.__traceback__ else None
        at = f" at {Path(frame.filename).name}:{frame.lineno} ({frame.line})" if frame is not None else ""
        counts.add("crashes", f"bench, run {index}: {type(failed).__name__}: {failed}{at}")
    finally:
        if server is not None:
            server.stop()
    for key in counts.counts:
        counts.runs_hit[key] = 1 if counts.counts[key] else 0
    return counts.labelled(f"run {index} ({plan.kind})")


def _judge(plan: Plan, server: Server | None, db: str, counts: Counts) -> None:
    journal = read_journal(db)
    if server is None:  # paper: the bot's own venue is in the database; nothing sold twice
        sold_beyond_held(plan.balances, journal.fills, "size", counts)
        return
    audit = server.audit()
    compare(audit, journal, counts)
    sold_beyond_held(plan.balances, audit["fills"], "size", counts)
    ceilings = dict(plan.balances)
    for f in audit["fills"]:
        base = f["product_id"].split("-", 1)[0]
        if f["side"] == "BUY":
            ceilings[base] = ceilings.get(base, Decimal(0)) + Decimal(f["size"])
        else:
            ceilings["USD"] = ceilings.get("USD", Decimal(0)) + Decimal(f["size"]) * Decimal(f["price"])
    holdings_above(journal.holdings, ceilings, counts)


def rebalance_misses(server: Server) -> Counts:
    """The demo policy's target weights against the venue's balances (available + hold), valued
    at the venue's mids now: each weight outside its drift band is one target miss."""
    accounts = server.get(f"{PREFIX}/accounts?limit=250", private=True)["accounts"]
    totals = {
        a["currency"]: Decimal(a["available_balance"]["value"]) + Decimal(a["hold"]["value"])
        for a in accounts
    }
    rebalance = _rebalance_policy()
    mids = {}
    for asset in rebalance.target_weights:
        book = server.get(f"{PREFIX}/market/product_book?product_id={asset}-USD&limit=1")["pricebook"]
        mids[asset] = (Decimal(book["bids"][0]["price"]) + Decimal(book["asks"][0]["price"])) / 2
    targets = {asset: Decimal(str(weight)) for asset, weight in rebalance.target_weights.items()}
    band = (Decimal(str(rebalance.drift_band.absolute)), Decimal(str(rebalance.drift_band.relative)))
    counts = Counts()
    target_misses(totals, mids, targets, band=band, quote="USD", counts=counts)
    return counts


def _rebalance_policy() -> RebalancePolicy:
    """The rebalance section of the policy the rebalance runs trade on (``_bot``)."""
    policy = load_policy(default_policy_path("demo-policy.yaml"), [*FAST, *REBALANCE])
    return policy.portfolio_management.rebalance


def settle(life: Callable[[int], None], misses: Callable[[], Counts], lives: int) -> Counts:
    """Run final lives (1, 2, ...) until no target weight is outside its band, at most ``lives``;
    the misses left after the last are the run's. A rebalance sells first and buys from the
    proceeds only once its sells are done, and one life of ``LAST_LIFE_CYCLES`` cycles under the
    server's faults (a 10 s hang, a fills route answering 503) can end mid-sell, before any buy:
    the bench would then count a miss the bot had no chance to avoid. A bot that never buys
    stays outside its band through every life and is still counted."""
    found = Counts()
    for n in range(1, lives + 1):
        life(n)
        found = misses()
        if not found.total:
            break
    return found


def run_many(
    seed: int,
    runs: int,
    db_url: str | None,
    progress: Callable[[int], None] | None = None,
    *,
    jobs: int = 1,
    only: list[int] | None = None,
    keep: Path | None = None,
) -> Counts:
    """``runs`` runs (or only the run indices ``only``), ``jobs`` at a time (each with its own
    server and SQLite file; one at a time on a ``db_url``, which every run empties). The runs
    mostly wait on the clock (TTLs, cycles, client timeouts), so a few at once fit on two cores.
    With ``keep``, every run's files stay in that directory for diagnosis."""
    total = Counts()
    parallel = 1 if db_url is not None else max(1, jobs)
    indices = list(range(runs)) if only is None else only
    with contextlib.ExitStack() as stack:
        if keep is None:
            directory = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="makerfirst-chaos-processes-"))
            )
        else:
            directory = keep
            directory.mkdir(parents=True, exist_ok=True)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=parallel))
        results = pool.map(lambda index: run_one(seed, index, directory, db_url), indices)
        for done, counts in enumerate(results, start=1):
            total.merge(counts)
            if progress is not None:
                progress(done)
    return total
