"""The chaos bench in one process, on the virtual clock: thousands of randomized runs in minutes.

One run is one seeded schedule. The venue is the simulated exchange behind the exchange port (what
``makerfirst run --paper`` trades on), wrapped in :class:`FaultyVenue`, which does at the port
what the sim-server's faults do on the wire, as the ccxt adapter would surface them after its own
retries: a 429 as ``RateLimitedError``, a 5xx or a hang on a read as an ``ExchangeError``, on a
write as ``OrderStateUnknownError`` (its effect unknown), a create that happened but whose answer
was lost, a cancel answered 503 after the order filled, latency, stale status reads, and 503s on
the fills route.

A crash is process-like: at the chosen moment :class:`Fuse` blows, the call raises
:class:`Crash` (a ``BaseException`` nothing in the product catches) and from then on every call
of that life, to the venue or to the database, raises it too: nothing more reaches either, as
after a SIGKILL. Then a fresh store and runner start on the same database file and the same
venue, after some downtime on the venue's clock. The last life has faults only in its first
cycle and no crash; when it returns, the venue is compared with the database
(:mod:`chaos_check`).

Crash moments: at a random venue call (after its effect), right after an order rests, right
after an IOC is sent, right after a fill lands (the first call after the venue filled us), and
right after a random database write commits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import random
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos_check import (
    OPEN_STATUSES,
    Counts,
    compare,
    read_journal,
    sold_beyond_held,
    target_misses,
)

from makerfirst import bootstrap
from makerfirst.adapters.products_file import Catalogue, load_catalogue
from makerfirst.adapters.sim.exchange import SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.market import MarketParams, SyntheticMarket
from makerfirst.adapters.sim.presets import DEAD, LIQUID, THIN
from makerfirst.adapters.sim_server import wire
from makerfirst.adapters.sim_server.audit import fill_record, order_record
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import ExchangeError, MakerfirstError, OrderStateUnknownError, RateLimitedError
from makerfirst.domain.orders import OrderAccepted, OrderStatus, OrderType, PlaceOrder, Side
from makerfirst.persistence.store import SqlStore
from makerfirst.policy import Policy, default_policy_path, load_policy

HANG_SEC = 10.0  # a hung request ends when the client's timeout does (ccxt: 10 s)
CYCLE_SEC = 15.0
ZERO = Decimal(0)

# The presets' shapes with fewer levels, less churn behind the touch and (liquid) fewer takers:
# the same matching and fill rules, far fewer market events to simulate per virtual second.
# The liquid book's own intensities (joins, cancels, improvements, removals behind the touch) run
# at a tenth of the fitted rates, all by the same factor, so their ratios (the queue-reactive
# shape) stay as fitted: the fitted book re-forms ~250 times a virtual second (mostly cancels at
# a wide touch), which was nine tenths of the bench's time, while what fills a maker order here
# is the takers, kept at one a second each side.
LIQUID_BOOK_SPEED = 0.1


def _slower_book(params: MarketParams, factor: float) -> MarketParams:
    def scaled(rates: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(rate * factor for rate in rates)

    return replace(
        params,
        add_per_sec=scaled(params.add_per_sec),
        cancel_per_sec=scaled(params.cancel_per_sec),
        improve_per_sec=scaled(params.improve_per_sec),
        remove_behind_per_sec=scaled(params.remove_behind_per_sec),
    )


MARKETS: dict[str, MarketParams] = {
    "liquid": replace(
        _slower_book(LIQUID, LIQUID_BOOK_SPEED),
        levels=8,
        deep_churn_per_sec=LIQUID.deep_churn_per_sec / 10,
        taker_buy_per_sec=1.0,
        taker_sell_per_sec=1.0,
    ),
    "thin": replace(THIN, levels=8, deep_churn_per_sec=THIN.deep_churn_per_sec / 10),
    "dead": replace(DEAD, levels=8, deep_churn_per_sec=DEAD.deep_churn_per_sec / 10),
}

FAST = [  # short TTLs and polls: a purge or a rebalance takes a few cycles, not minutes
    "execution.maker_max_ttl_sec=4",
    "execution.maker_first_min_ttl_sec=3",
    "execution.maker_retry_min_ttl_sec=2",
    "execution.order_poll_interval_sec=1",
    "execution.gtd_grace_sec=2",
    "execution.cancel_confirm_timeout_sec=5",
    "guards.failed_order_cooldown_sec=10",
    "portfolio_management.purge_execution.maker_ttl_sec=3",
    "portfolio_management.purge_execution.maker_first_ttl_sec=3",
    "portfolio_management.purge_execution.maker_retry_ttl_sec=2",
    "portfolio_management.purge_backoff={base_delay_sec: 20, max_delay_sec: 60}",
]


class Crash(BaseException):
    """The process died here. A BaseException, so no ``except Exception`` in the product stops it."""


class Fuse:
    """One life of the bot: once blown, every call to the venue or the database raises Crash."""

    def __init__(self) -> None:
        self.blown: str | None = None

    def check(self) -> None:
        if self.blown is not None:
            raise Crash(self.blown)

    def blow(self, where: str) -> None:
        self.blown = where
        raise Crash(where)


@dataclass(frozen=True)
class Faults:
    """Per-call fault rates of one life (all zero after ``until`` on the virtual clock)."""

    until: float = float("inf")
    latency_max_sec: float = 0.0
    rate_429: float = 0.0
    error_5xx: float = 0.0
    hang: float = 0.0
    stale_read: float = 0.0
    create_timeout: float = 0.0
    cancel_5xx_after_fill: float = 0.0
    fills_5xx: int = 0  # the next N fills requests answer 503 (a fault aimed at one route)


@dataclass(frozen=True)
class CrashPlan:
    """When this life ends: ``call`` (after the k-th venue call), ``rest``, ``ioc``, ``fill``,
    ``write`` (after the k-th database write), or ``none``."""

    moment: str = "none"
    k: int = 0


@dataclass
class Observations:
    """What the wrappers saw happen, for the checks that need a moment rather than the end."""

    counts: Counts
    start: dict[str, Decimal] = field(default_factory=dict)  # the venue's balances before the run
    held_at_most: dict[str, Decimal] = field(default_factory=dict)
    last_read: dict[str, Decimal] = field(default_factory=dict)

    def see_totals(self, totals: dict[str, Decimal]) -> None:
        for asset, amount in totals.items():
            self.held_at_most[asset] = max(self.held_at_most.get(asset, ZERO), amount)


def venue_totals(exchange: SimulatedExchange, start: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """What the venue holds per currency (available + on hold): the starting balances plus every
    fill, read from the venue's own fill list without a request."""
    totals = {c: Decimal(a) for c, a in start.items()}
    for f in exchange.all_fills():
        base, quote = f.product_id.split("-", 1)
        value = f.price * f.size
        signed = f.size if f.side is Side.BUY else -f.size
        totals[base] = totals.get(base, ZERO) + signed
        totals[quote] = totals.get(quote, ZERO) - (value if f.side is Side.BUY else -value) - f.fee
    return totals


BALANCE_READS = ("balance", "account", "holding")


class FaultyVenue:
    """The exchange port over the simulator, with this life's faults and crash moment."""

    WRITES = frozenset({"place_order", "cancel_orders"})

    def __init__(
        self,
        inner: SimulatedExchange,
        clock: VirtualClock,
        *,
        rng: random.Random,
        faults: Faults,
        fuse: Fuse,
        plan: CrashPlan,
        seen: Observations,
    ) -> None:
        self._inner, self._clock, self._rng = inner, clock, rng
        self._faults, self._fuse, self._plan, self._seen = faults, fuse, plan, seen
        self._calls = 0
        self._fills_seen = len(inner.all_fills())
        self._reports: dict[str, Any] = {}  # order id → the previous report (for stale reads)
        self._fills_5xx_left = faults.fills_5xx

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):  # a request this wrapper does not name: faults apply too

            async def request(*args: Any) -> Any:
                return await self._call(name, *args)

            return request
        return attr  # views without a request (book_now, ...)

    def _on(self, probability: float) -> bool:
        return probability > 0 and self._clock.now() < self._faults.until and self._rng.random() < probability

    async def _call(self, name: str, *args: Any) -> Any:
        self._fuse.check()
        self._calls += 1
        f = self._faults
        if f.latency_max_sec > 0 and self._clock.now() < f.until:
            await self._clock.sleep_until(self._clock.now() + self._rng.uniform(0, f.latency_max_sec))
            self._fuse.check()
        write = name in self.WRITES
        if self._on(f.rate_429):
            raise RateLimitedError(f"429 Too Many Requests on {name} (after the adapter's retries)")
        if self._on(f.error_5xx):
            raise (OrderStateUnknownError if write else ExchangeError)(f"503 on {name}")
        if name == "list_fills" and self._fills_5xx_left > 0 and self._clock.now() < f.until:
            self._fills_5xx_left -= 1
            raise ExchangeError("503 on GET /orders/historical/fills")
        if self._on(f.hang):
            await self._clock.sleep_until(self._clock.now() + HANG_SEC)
            self._fuse.check()
            if write and self._rng.random() < 0.5:
                await getattr(self._inner, name)(*args)  # it happened; the answer never came
            raise (OrderStateUnknownError if write else ExchangeError)(f"{name} timed out")
        if name == "cancel_orders" and self._names_a_fill(args[0]) and self._on(f.cancel_5xx_after_fill):
            raise OrderStateUnknownError("503 on batch_cancel naming a filled order")
        if name == "place_order":
            self._before_place(args[0])
        result = await getattr(self._inner, name)(*args)
        self._fuse.check()
        if name == "get_order":
            previous = self._reports.get(result.order_id)
            self._reports[result.order_id] = result
            if previous is not None and self._on(f.stale_read):
                result = previous  # a replica behind the primary answers
        if any(word in name for word in BALANCE_READS):  # however the port names its balance reads
            self._seen.last_read = venue_totals(self._inner, self._seen.start)
            self._seen.see_totals(self._seen.last_read)
        self._after(name, args, result)
        if name == "place_order" and isinstance(result, OrderAccepted) and self._on(f.create_timeout):
            await self._clock.sleep_until(self._clock.now() + HANG_SEC)
            self._fuse.check()
            raise OrderStateUnknownError(
                f"create of {args[0].client_order_id} timed out after it was accepted"
            )
        return result

    def _names_a_fill(self, order_ids: list[str]) -> bool:
        by_id = {r.order_id: r for r in self._inner.all_orders()}
        return any(i in by_id and by_id[i].status is OrderStatus.FILLED for i in order_ids)

    def _before_place(self, command: PlaceOrder) -> None:
        resting = [r for r in self._inner.all_orders() if r.status.value in OPEN_STATUSES]
        if command.side is Side.SELL:
            twins = [r for r in resting if r.side is Side.SELL and r.product_id == command.product_id]
            if twins:
                self._seen.counts.add(
                    "double_sells",
                    f"{command.client_order_id} sent while {twins[0].client_order_id} rested",
                )
        elif not command.client_order_id.startswith("purge"):
            sells = [r for r in resting if r.side is Side.SELL and r.client_order_id.startswith("mf_")]
            if sells:
                self._seen.counts.add(
                    "early_buys", f"{command.client_order_id} sent while {sells[0].client_order_id} rested"
                )

    def _after(self, name: str, args: tuple[Any, ...], result: Any) -> None:
        moment = self._plan.moment
        fills = len(self._inner.all_fills())
        landed, self._fills_seen = fills > self._fills_seen, fills
        if moment == "call" and self._calls >= self._plan.k:
            self._fuse.blow(f"after venue call {self._calls} ({name})")
        if moment == "fill" and landed:
            self._fuse.blow(f"right after a fill landed ({name})")
        if name == "place_order" and isinstance(result, OrderAccepted):
            command: PlaceOrder = args[0]
            if moment == "ioc" and command.order_type is OrderType.LIMIT_IOC:
                self._fuse.blow(f"right after IOC {command.client_order_id} was sent")
            if moment == "rest":
                report = next((r for r in self._inner.all_orders() if r.order_id == result.order_id), None)
                if report is not None and report.status is OrderStatus.OPEN:
                    self._fuse.blow(f"right after {command.client_order_id} rested")

    # -- the port -----------------------------------------------------------------------------------
    async def get_product(self, product_id: str) -> Any:
        return await self._call("get_product", product_id)

    async def get_order_book(self, product_id: str, depth: int = 50) -> Any:
        return await self._call("get_order_book", product_id, depth)

    async def get_balances(self) -> Any:
        return await self._call("get_balances")

    async def get_fee_rates(self) -> Any:
        return await self._call("get_fee_rates")

    async def get_volume_24h(self, product_id: str) -> Any:
        return await self._call("get_volume_24h", product_id)

    async def place_order(self, command: PlaceOrder) -> Any:
        return await self._call("place_order", command)

    async def cancel_orders(self, order_ids: list[str]) -> Any:
        return await self._call("cancel_orders", order_ids)

    async def get_order(self, order_id: str) -> Any:
        return await self._call("get_order", order_id)

    async def list_fills(self, order_id: str) -> Any:
        return await self._call("list_fills", order_id)

    async def list_open_orders(self, product_id: str | None = None) -> Any:
        return await self._call("list_open_orders", product_id)

    async def find_order_by_client_id(self, client_order_id: str) -> Any:
        return await self._call("find_order_by_client_id", client_order_id)


READS = ("open_orders", "order", "orders_for_run", "active_run", "runs", "cycles", "close")
READ_PREFIXES = ("all_", "latest_", "load_", "list_", "get_", "find_")


class CrashingStore:
    """The store of one life: every call passes the fuse; a write may be the crash moment.
    Methods it does not know are passed through (and counted as writes unless they read)."""

    def __init__(
        self, store: Any, fuse: Fuse, plan: CrashPlan, seen: Observations, venue: SimulatedExchange
    ) -> None:
        self._store, self._fuse, self._plan, self._seen, self._venue = store, fuse, plan, seen, venue
        self._writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr
        reads = name in READS or name.startswith(READ_PREFIXES)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._fuse.check()
            if name == "record_holdings":
                self._check_holdings(args[2] if len(args) > 2 else kwargs["holdings"])
            result = attr(*args, **kwargs)
            if not reads:
                self._writes += 1
                if self._plan.moment == "write" and self._writes >= self._plan.k:
                    self._fuse.blow(f"right after database write {self._writes} ({name})")
            return result

        return call

    def _check_holdings(self, holdings: list[Any]) -> None:
        """A holding may not exceed what the venue held when balances were read, or holds now."""
        now = venue_totals(self._venue, self._seen.start)
        self._seen.see_totals(now)
        for h in holdings:
            ceiling = max(self._seen.last_read.get(h.asset, ZERO), now.get(h.asset, ZERO))
            if h.size > ceiling:
                self._seen.counts.add("holdings_over", f"{h.asset}: {h.size} recorded, {ceiling} held")


# -- scenarios ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    kind: str  # "purge" or "rebalance"
    balances: dict[str, Decimal]
    markets: dict[str, str]  # product id → key of MARKETS
    overrides: list[str]
    lives: list[tuple[int, Faults, CrashPlan]]  # cycles, faults, crash moment; the last: settle
    downtimes: list[float]


CRASH_MOMENTS = ("call", "rest", "ioc", "fill", "write")


def draw_faults(rng: random.Random, start: float, heavy: bool) -> Faults:
    scale = 1.0 if heavy else 0.3
    return Faults(
        until=start + (1e9 if heavy else CYCLE_SEC),
        latency_max_sec=rng.choice([0.0, 0.05, 0.3, 1.0]),
        rate_429=scale * rng.choice([0.0, 0.01, 0.05]),
        error_5xx=scale * rng.choice([0.0, 0.01, 0.05]),
        hang=scale * rng.choice([0.0, 0.0, 0.01, 0.03]),
        stale_read=rng.choice([0.0, 0.0, 0.1, 0.3]),
        create_timeout=scale * rng.choice([0.0, 0.05, 0.2]),
        cancel_5xx_after_fill=rng.choice([0.0, 0.5, 1.0]),
        fills_5xx=rng.choice([0, 0, 1, 3]),
    )


def draw_scenario(seed: int, index: int) -> Scenario:
    """The whole schedule of run ``index`` from ``seed``: the same pair, the same run."""
    rng = random.Random(f"chaos:{seed}:{index}")
    if rng.random() < 0.5:
        kind = "purge"
        balances = {"PENGU": Decimal(rng.choice([1116, 600, 3000])), "ZK": Decimal(400), "USD": Decimal(100)}
        markets = {"PENGU-USD": rng.choice(["dead", "thin"]), "ZK-USD": rng.choice(["dead", "thin"])}
        overrides = ["purge=[PENGU, ZK]"]
    else:
        kind = "rebalance"
        balances = {
            "BTC": Decimal(rng.randint(0, 2000)) / Decimal(100_000),
            "ETH": Decimal(rng.randint(0, 800)) / Decimal(1000),
            "USD": Decimal(rng.randint(200, 2500)),
            "PENGU": Decimal(rng.choice([0, 1116])),
        }
        markets = {"BTC-USD": "liquid", "ETH-USD": "liquid", "PENGU-USD": "dead"}
        overrides = ["portfolio_management.tiers.overrides={BTC: T1, ETH: T1}"]
    crashes = rng.choice([0, 1, 1, 2, 2, 3])
    lives: list[tuple[int, Faults, CrashPlan]] = []
    for _ in range(crashes):
        moment = rng.choice(CRASH_MOMENTS)
        k = rng.randint(1, 120) if moment == "call" else rng.randint(1, 30)
        lives.append((rng.randint(2, 6), draw_faults(rng, 0.0, heavy=True), CrashPlan(moment, k)))
    settle = draw_faults(rng, 0.0, heavy=False)
    lives.append((8 if kind == "rebalance" else 5, settle, CrashPlan()))
    downtimes = [rng.choice([0.0, 1.0, 5.0, 30.0]) for _ in lives]
    return Scenario(kind, balances, markets, overrides, lives, downtimes)


_POLICIES: dict[tuple[str, ...], Policy] = {}
_CATALOGUE: list[Catalogue] = []


def _policy(kind: str, overrides: list[str]) -> Policy:
    key = (kind, *overrides)
    if key not in _POLICIES:
        name = "demo-policy.yaml" if kind == "rebalance" else "policy.yaml"
        _POLICIES[key] = load_policy(default_policy_path(name), [*FAST, *overrides])
    return _POLICIES[key]


def _venue(scenario: Scenario, clock: VirtualClock, seed: int) -> SimulatedExchange:
    if not _CATALOGUE:
        _CATALOGUE.append(load_catalogue(None))
    catalogue = _CATALOGUE[0]
    products = [catalogue.products[p] for p in scenario.markets]
    exchange = SimulatedExchange(clock, products, dict(scenario.balances), SimulatorSettings(seed=seed))
    for product in products:
        pid = product.product_id
        params = MARKETS[scenario.markets[pid]]
        exchange.attach_market(
            pid, SyntheticMarket(product, params, catalogue.reference_prices[pid], clock.now(), seed)
        )
    clock.advance_to(clock.now() + 5.0)  # let the market trade a little first
    exchange.advance()
    return exchange


def venue_audit(exchange: SimulatedExchange) -> dict[str, Any]:
    """What ``GET /audit`` would answer for this exchange."""
    return {
        "orders": [order_record(r, wire.configuration_of(r)) for r in exchange.all_orders()],
        "fills": [fill_record(f) for f in exchange.all_fills()],
    }


async def _lives(scenario: Scenario, seed: int, index: int, db_url: str, counts: Counts) -> SimulatedExchange:
    clock = VirtualClock()
    exchange = _venue(scenario, clock, seed * 100_003 + index)
    seen = Observations(counts, start=dict(scenario.balances))
    seen.see_totals(venue_totals(exchange, seen.start))
    policy = _policy(scenario.kind, scenario.overrides)
    rng = random.Random(f"chaos-faults:{seed}:{index}")
    for life, ((cycles, drawn, plan), downtime) in enumerate(
        zip(scenario.lives, scenario.downtimes, strict=True)
    ):
        last = life == len(scenario.lives) - 1
        clock.advance_to(clock.now() + downtime)
        start = clock.now()
        faults = replace(drawn, until=start + drawn.until)  # drawn relative to the life's start
        fuse = Fuse()
        store = bootstrap.open_store(db_url)
        venue = FaultyVenue(exchange, clock, rng=rng, faults=faults, fuse=fuse, plan=plan, seen=seen)
        runner = bootstrap.build_runner(
            venue, clock, policy, CrashingStore(store, fuse, plan, seen, exchange)
        )  # type: ignore[arg-type]
        try:
            await runner.run(cycles, CYCLE_SEC)
        except BaseException as ended:
            _judge(ended, fuse, last, counts, f"life {life + 1}")
        finally:
            store.close()
    return exchange


def _judge(ended: BaseException, fuse: Fuse, last: bool, counts: Counts, where: str) -> None:
    if fuse.blown is not None:
        return  # the crash we caused
    if isinstance(ended, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
        raise ended
    for leaf in _leaves(ended):
        if isinstance(leaf, MakerfirstError) and not last:
            continue  # the CLI's "error: ..." and exit 2, then a restart: not a crash
        frame = traceback.extract_tb(leaf.__traceback__)[-1] if leaf.__traceback__ else None
        at = f" at {Path(frame.filename).name}:{frame.lineno}" if frame is not None else ""
        counts.add("crashes", f"{where}: {type(leaf).__name__}: {leaf}{at}")


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def run_one(seed: int, index: int, workdir: Path) -> Counts:
    """One randomized run; its database is a file in ``workdir``, copied from an empty database
    at the newest schema (``workdir``/template.db, built once) rather than migrated per run."""
    scenario = draw_scenario(seed, index)
    counts = Counts(runs=1)
    path = workdir / f"run-{seed}-{index}.db"
    shutil.copyfile(_template(workdir), path)
    db_url = f"sqlite:///{path}"
    try:
        exchange = asyncio.run(_lives(scenario, seed, index, db_url, counts))
        audit = venue_audit(exchange)
        compare(audit, read_journal(db_url), counts)
        sold_beyond_held(scenario.balances, audit["fills"], "size", counts)
        if scenario.kind == "rebalance":
            policy = _policy(scenario.kind, scenario.overrides)
            rebalance = policy.portfolio_management.rebalance
            band = rebalance.drift_band
            mids = {a: exchange.book_now(f"{a}-USD", 1).mid for a in rebalance.target_weights}
            targets = {a: Decimal(str(w)) for a, w in rebalance.target_weights.items()}
            limits = (Decimal(str(band.absolute)), Decimal(str(band.relative)))
            target_misses(
                venue_totals(exchange, scenario.balances),
                mids,
                targets,
                band=limits,
                quote="USD",
                counts=counts,
            )
    except Exception as failed:
        counts.add("crashes", f"bench: {type(failed).__name__}: {failed}")
    finally:
        path.unlink(missing_ok=True)
    for key in counts.counts:
        counts.runs_hit[key] = 1 if counts.counts[key] else 0
    return counts.labelled(f"run {index} ({scenario.kind})")


def quiet_logs() -> None:
    """The product's transcript and warnings are not the bench's output: the table is."""
    logger = logging.getLogger("makerfirst")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _template(workdir: Path) -> Path:
    """An empty database at the newest schema, the same as a new file migrated by the store."""
    template = workdir / "template.db"
    if not template.exists():
        building = workdir / f"template-{os.getpid()}.db"
        SqlStore(f"sqlite:///{building}").close()
        building.replace(template)  # atomic: a reader never sees a half-built template
    return template


def _scratch() -> Path | None:
    ram = Path("/dev/shm")  # noqa: S108 - scratch databases in RAM when there is one: no fsync per commit
    return ram if ram.is_dir() else None


_WORKDIR: list[Path] = []


def _start_worker(directory: str) -> None:
    quiet_logs()
    _WORKDIR.append(Path(directory))


def _run_in_worker(task: tuple[int, int]) -> Counts:
    seed, index = task
    return run_one(seed, index, _WORKDIR[0])


def run_many(
    seed: int,
    runs: int,
    progress: Callable[[int], None] | None = None,
    *,
    jobs: int = 1,
    only: list[int] | None = None,
) -> Counts:
    """``runs`` runs of ``seed`` (or only the run indices ``only``), ``jobs`` processes at once.
    Each run is a function of (seed, index) alone and the results are merged in index order, so
    the table is the same whatever ``jobs`` is."""
    quiet_logs()
    total = Counts()
    indices = list(range(runs)) if only is None else only
    with tempfile.TemporaryDirectory(prefix="makerfirst-chaos-", dir=_scratch()) as directory:
        workdir = Path(directory)
        _template(workdir)
        if jobs <= 1 or len(indices) <= 1:
            results: Iterable[Counts] = (run_one(seed, index, workdir) for index in indices)
            for done, counts in enumerate(results, start=1):
                total.merge(counts)
                if progress is not None:
                    progress(done)
            return total
        context = multiprocessing.get_context("spawn")  # no forked event loop, store or logger state
        with context.Pool(min(jobs, len(indices)), _start_worker, (directory,)) as pool:
            # imap keeps the order of ``indices``: merged in the same order as with one job.
            ordered = pool.imap(_run_in_worker, [(seed, index) for index in indices], chunksize=1)
            for done, counts in enumerate(ordered, start=1):
                total.merge(counts)
                if progress is not None:
                    progress(done)
    return total
