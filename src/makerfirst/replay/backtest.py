"""Backtests: every policy on the same episodes, through the same loop, on replayed or synthetic markets.

**Where episodes run.** ``--data`` is a capture file (any format the readers decode) or
``synthetic:<preset>``. A capture is used twice, and each use is reported separately (``mode``):

* ``replay``: the capture itself is the market, with the chosen fill model. A product's episodes
  never overlap and are spread over the whole capture (``episodes.replay_episodes``); each runs
  to its deadline or to the end of the data, whichever comes first (its horizon is the whole
  remaining capture). An episode whose policy was still working when the data ended is
  *censored*: counted, and kept out of every IS figure and of the paired comparison, never
  charged as a completed taker sale. A capture shorter than the deadline says so in the plan's
  notes, and its figures are the fill and completion shares within the horizon. Sizes are the
  usual USD buckets, small next to these books' touch (a replayed book cannot react to us).
* ``calibrated``: a ``SyntheticMarket`` whose parameters are fitted on the capture's first
  ``calibration_share`` only (``calibrate.py``), each episode on its own seeded market, run to
  the full deadline, so the whole TTL ladder and the taker fallback are exercised.

``synthetic:<preset>`` runs ``synthetic`` episodes on a preset market (``liquid``, ``thin``, ``dead``).

**One episode** (``run_episode``): a fresh simulated exchange positioned at the arrival (a replay
is built by the venues the composition root hands in, ``SimOptions.replay_venues``, by default
``bootstrap.build_replay_venues()``: under the conservative model ``venue.CompiledReplayExchange``,
the compiled book restored from the checkpoint the plan took at that arrival in one pass over the
capture; other fill models, or ``SimOptions.replay_book=oracle``: ``ReplayExchange`` on the
Python ``ReplayBook``), an
account holding ample base (the episode's size, not the balance, bounds the sell), the policy run
through ``TwapLoop`` and shown the deadline, as a task that is cancelled at the deadline or the
end of the data; then every open order is cancelled and confirmed terminal (fills that race the
cancel count), and whatever is unsold is charged as a forced taker sale into the bids at the
deadline (``metrics.py``); its taker orders are kept with the touch each was priced from, read off
the loop's events, for the taker leg (``taker_leg.py``). The market keeps running up to 60 s after
our last fill (within the data) for the markouts. Every policy sees the same episode: the same
replayed tape, or the same synthetic market seed.

Products quoted in something other than a dollar need a rate (``quote_usd``) so a "$25" episode
and the policy's USD thresholds mean the same everywhere; products without one are skipped and listed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from makerfirst.adapters.products_file import Catalogue, load_catalogue
from makerfirst.adapters.sim.driver import NEVER, MarketDriver
from makerfirst.adapters.sim.exchange import COINBASE_INTRO_FEES, SimulatedExchange, SimulatorSettings
from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.adapters.sim.presets import PRESETS
from makerfirst.algorithms.shortfall import implementation_shortfall_bps
from makerfirst.clock import Clock, VirtualClock
from makerfirst.domain.errors import MakerfirstError
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import FeeRates, Fill, Liquidity, Side
from makerfirst.domain.product import Product
from makerfirst.policy import Policy
from makerfirst.replay.book_check import BookCheck
from makerfirst.replay.cbook import BookTape, Volume
from makerfirst.replay.driver import FillModel, ProductTape, ReplayBook, product_tape
from makerfirst.replay.episodes import (
    DEFAULT_SIZES_USD,
    Episode,
    Window,
    replay_episodes,
    split_window,
    synthetic_episodes,
)
from makerfirst.replay.events import EventStream, ProductScale
from makerfirst.replay.gaps import resync_times, spans_a_gap
from makerfirst.replay.metrics import (
    MARKOUT_HORIZONS_SEC,
    REFERENCE_POLICY,
    EpisodeResult,
    Markout,
    PolicyMetrics,
    compare_paired,
    forced_sale_net,
    market_sell_bps,
    perfect_maker_bps,
    summarize,
)
from makerfirst.replay.policies import REFERENCE_POLICIES, PolicySpec, resolve_policy, run_policy
from makerfirst.replay.readers import read_checked_capture
from makerfirst.replay.taker_leg import TakerReferences, taker_orders
from makerfirst.replay.venue import ArrivalBooks, CompiledEngine

if TYPE_CHECKING:
    # Only the calibrated and synthetic modes build these (imported where they do): a replay
    # backtest does not load the calibration or the synthetic market.
    from makerfirst.adapters.sim.market import MarketParams
    from makerfirst.replay.calibrate import Calibration

SYNTHETIC_PREFIX = "synthetic:"
SYNTHETIC_PRODUCT = "PENGU-USD"
SYNTHETIC_START = 1_700_000_000.0
WARM_UP_SEC = 5.0  # a synthetic market lays out its book and trades a little before the first arrival
AMPLE_BASE = Decimal(10) ** 12
MID_PERIOD_SEC = 0.1  # how often the mid is recorded for markouts
CUT_OFF = "cut_off"
DOLLAR_QUOTES = (("USD", Decimal(1)), ("USDC", Decimal(1)), ("USDT", Decimal(1)))
_QUOTE_SUFFIXES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "BTC", "ETH", "BNB")


class Mode(StrEnum):
    REPLAY = "replay"
    CALIBRATED = "calibrated"
    SYNTHETIC = "synthetic"


class ReplayBookKind(StrEnum):
    """Which book a replay runs on: the compiled book (conservative fills; the default), or the
    pure-Python ``ReplayBook`` (its test oracle, and the only one with the other fill models)."""

    COMPILED = "compiled"
    ORACLE = "oracle"


REPLAY_COUNT_NOTE = (
    "messages = snapshots + depth diffs + trades (BBO/ticker messages excluded), summed over every"
    " (episode, policy) run from the episode's arrival to where its market stopped (the catch-up"
    " before the arrival is not counted); seconds = wall time of the replay runs plus the catch-up:"
    " on the compiled book one pass over the capture for every arrival (catch_up_seconds), on the"
    " oracle the prefix replayed inside every run"
)


class ReplayVenues(Protocol):
    """How a replay episode's market is built, chosen by the composition root
    (``bootstrap.build_replay_venues``) and handed in as ``SimOptions.replay_venues``: the backtest
    itself names no concrete replay venue or book."""

    def arrival_books(
        self, tape: BookTape, arrivals: Sequence[float], options: SimOptions
    ) -> ArrivalBooks | None:
        """What the venue needs once per product before its episodes run (the compiled book's
        checkpoints at every arrival, one pass over the tape), or None."""
        ...

    def open(
        self,
        clock: VirtualClock,
        venue: ReplayVenue,
        episode: Episode,
        balances: dict[str, Decimal],
        options: SimOptions,
    ) -> SimulatedExchange:
        """A fresh exchange trading ``venue``'s tape, positioned at ``clock``'s now (the arrival)."""
        ...


@runtime_checkable
class ReplayedExchange(Protocol):
    """An exchange replaying a tape, which knows what its episode lived through."""

    def mark_arrival(self) -> None:
        """The episode starts now: the rows applied before were its catch-up."""

    def lived_through(self) -> Volume:
        """Messages and level rows applied since ``mark_arrival``."""
        ...


@dataclass(frozen=True, slots=True)
class SimOptions:
    """The simulated venue: fees, latencies (seconds), the replay's fill model, and who builds
    the replay venue (``replay_venues``; None: the composition root's default)."""

    fill_model: FillModel = FillModel.CONSERVATIVE
    entry_latency_sec: float = 0.05
    feed_latency_sec: float = 0.0
    cancel_queue_sec: float = 0.02
    fees: FeeRates = COINBASE_INTRO_FEES
    replay_book: ReplayBookKind = ReplayBookKind.COMPILED
    replay_venues: ReplayVenues | None = None

    def venues(self) -> ReplayVenues:
        """``replay_venues``, else the one ``bootstrap.build_replay_venues`` builds (looked up when
        first needed, so the backtest and the composition root do not import each other at load)."""
        if self.replay_venues is not None:
            return self.replay_venues
        from makerfirst import bootstrap  # noqa: PLC0415 - the composition root, resolved late

        return bootstrap.build_replay_venues()

    @property
    def compiled_replay(self) -> bool:
        """The compiled book implements the conservative model only; the others use the oracle."""
        return self.replay_book is ReplayBookKind.COMPILED and self.fill_model is FillModel.CONSERVATIVE

    def settings(self, seed: int) -> SimulatorSettings:
        return SimulatorSettings(
            fees=self.fees,
            request_latency_sec=self.entry_latency_sec,
            cancel_queue_sec=self.cancel_queue_sec,
            seed=seed,
        )


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """What to run. ``episodes`` is per product and mode; deadlines in seconds."""

    data: str
    products_file: Path | None = None
    policies: tuple[PolicySpec, ...] = tuple(REFERENCE_POLICIES.values())
    episodes: int = 12
    seed: int = 1
    modes: tuple[Mode, ...] = (Mode.REPLAY, Mode.CALIBRATED)
    calibration_share: float = 0.5
    replay_deadline_sec: float | None = None  # default: ``deadline_sec``
    deadline_sec: float = 120.0
    sizes_usd: tuple[Decimal, ...] = DEFAULT_SIZES_USD
    product: str | None = None
    quote_usd: tuple[tuple[str, Decimal], ...] = DOLLAR_QUOTES
    options: SimOptions = field(default_factory=SimOptions)
    cache_dir: Path | None = None

    @property
    def is_synthetic(self) -> bool:
        return self.data.startswith(SYNTHETIC_PREFIX)


@dataclass(frozen=True, slots=True)
class ReplayVenue:
    """A product of a capture. ``book_tape``/``arrivals``: the compiled book's tape and its
    checkpoints at the episodes' arrivals (None when the replay runs on the oracle)."""

    product: Product
    tape: ProductTape
    usd_per_quote: Decimal
    book_tape: BookTape | None = None
    arrivals: ArrivalBooks | None = None

    def compiled_tape(self) -> BookTape:
        """The compiled book's tape (built from ``tape`` when the venue was made by hand)."""
        if self.book_tape is not None:
            return self.book_tape
        return BookTape.from_rows(self.tape.rows, self.tape.scale)


@dataclass(frozen=True, slots=True)
class SyntheticVenue:
    product: Product
    params: MarketParams
    start_price: Decimal
    usd_per_quote: Decimal


@dataclass(frozen=True, slots=True)
class DriverVenue:
    """Any :class:`MarketDriver`: ``make_market(start_time, seed)`` builds one episode's market
    (a scenario written for a test, a model from elsewhere). It starts at the warm-up like a
    synthetic market."""

    product: Product
    make_market: Callable[[float, int], MarketDriver]
    usd_per_quote: Decimal = Decimal(1)


Venue = ReplayVenue | SyntheticVenue | DriverVenue


@dataclass(frozen=True, slots=True)
class BacktestPlan:
    """The markets and episodes of a backtest (independent of the policies)."""

    data: str
    venues: dict[tuple[Mode, str], Venue]
    episodes: tuple[tuple[Mode, Episode], ...]
    rebuild: BookCheck | None
    calibrations: tuple[Calibration, ...]
    skipped: tuple[str, ...]
    fill_model: FillModel
    notes: tuple[str, ...] = ()  # what a reader must know to read the figures (short captures, ...)


@dataclass(frozen=True, slots=True)
class EpisodeTrace:
    """What one policy did in one episode, for charts: book and our quotes over time, and fills."""

    policy: str
    mode: str
    episode_id: int
    product_id: str
    arrival: float
    deadline: float
    times: tuple[float, ...]
    best_bids: tuple[float | None, ...]
    best_asks: tuple[float | None, ...]
    quotes: tuple[tuple[float, float], ...]  # (time, price) of our resting orders, sampled
    fills: tuple[tuple[float, float, float, str], ...]  # (time, price, size, liquidity)


@dataclass(frozen=True, slots=True)
class ReplayCount:
    """What the replay episodes went through and how fast (see ``REPLAY_COUNT_NOTE``)."""

    book: str
    runs: int
    messages: int
    level_rows: int
    seconds: float
    catch_up_seconds: float

    @property
    def messages_per_sec(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def level_rows_per_sec(self) -> float:
        return self.level_rows / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "book": self.book,
            "runs": self.runs,
            "messages": self.messages,
            "level_rows": self.level_rows,
            "seconds": round(self.seconds, 4),
            "catch_up_seconds": round(self.catch_up_seconds, 4),
            "messages_per_sec": round(self.messages_per_sec),
            "level_rows_per_sec": round(self.level_rows_per_sec),
            "note": REPLAY_COUNT_NOTE,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    plan: BacktestPlan
    results: tuple[EpisodeResult, ...]
    metrics: tuple[PolicyMetrics, ...]
    traces: tuple[EpisodeTrace, ...]
    replay: ReplayCount | None = None


# -- planning ---------------------------------------------------------------------------------------
def split_symbol(product_id: str) -> tuple[str, str]:
    """(base, quote) of ``BASE-QUOTE`` or of an exchange symbol such as ``BTCUSDT``."""
    if "-" in product_id:
        base, _, quote = product_id.partition("-")
        return base, quote
    for quote in _QUOTE_SUFFIXES:
        if product_id.endswith(quote) and len(product_id) > len(quote):
            return product_id[: -len(quote)], quote
    return product_id, "USD"


def _product(scale: ProductScale, catalogue: Catalogue | None) -> Product:
    known = catalogue.products.get(scale.product_id) if catalogue else None
    if known is not None:
        if (known.price_increment, known.base_increment) != (scale.tick, scale.lot):
            raise MakerfirstError(
                f"{scale.product_id}: the products file's tick/lot"
                f" {known.price_increment}/{known.base_increment}"
                f" differ from the capture's {scale.tick}/{scale.lot}"
            )
        return known
    base, quote = split_symbol(scale.product_id)
    return Product(scale.product_id, base, quote, scale.tick, scale.lot, scale.lot, ZERO)


def plan_backtest(config: BacktestConfig) -> BacktestPlan:
    """Load the data, calibrate where asked, and draw the episodes."""
    if config.is_synthetic:
        return _plan_synthetic(config)
    return _plan_capture(config)


def _plan_synthetic(config: BacktestConfig) -> BacktestPlan:
    preset = config.data[len(SYNTHETIC_PREFIX) :]
    params = PRESETS.get(preset)
    if params is None:
        raise MakerfirstError(f"unknown synthetic market {preset!r}; choose one of: {', '.join(PRESETS)}")
    catalogue = load_catalogue(config.products_file)
    product_id = config.product or SYNTHETIC_PRODUCT
    product = catalogue.products.get(product_id)
    price = catalogue.reference_prices.get(product_id)
    if product is None or price is None:
        raise MakerfirstError(f"{product_id} is not in the products file with a reference price")
    rate = dict(config.quote_usd).get(product.quote_currency)
    if rate is None:
        raise MakerfirstError(f"{product_id} is quoted in {product.quote_currency}: pass --quote-usd")
    episodes = synthetic_episodes(
        product_id, count=config.episodes, arrival=WARM_UP_SEC, deadline_sec=config.deadline_sec,
        seed=config.seed, mode=Mode.SYNTHETIC.value, sizes_usd=config.sizes_usd,
    )  # fmt: skip
    venue = SyntheticVenue(product, params, price, rate)
    return BacktestPlan(
        data=config.data,
        venues={(Mode.SYNTHETIC, product_id): venue},
        episodes=_numbered([(Mode.SYNTHETIC, e) for e in episodes]),
        rebuild=None,
        calibrations=(),
        skipped=(),
        fill_model=config.options.fill_model,
    )


def _load_capture(config: BacktestConfig) -> tuple[EventStream, BookCheck, Catalogue | None]:
    """The decoded capture, its book rebuild check (refused if it fails) and its products."""
    path = Path(config.data)
    if not path.is_file():
        raise MakerfirstError(f"no capture at {path} (or use --data synthetic:<preset>)")
    stream, check = read_checked_capture(path, products=config.products_file, cache_dir=config.cache_dir)
    if not check.ok:
        # A policy replayed on a book that is not the venue's is measured on fiction: refuse.
        raise MakerfirstError(
            f"{path}: the rebuilt book disagrees with the capture's own best bid/ask"
            f" ({check.mismatches} mismatches, {check.crossed} crossed of {check.messages_compared});"
            f" first: {check.first_problem}"
        )
    beside = path.parent / "products.txt"
    products_path = config.products_file or (beside if beside.is_file() else None)
    catalogue = load_catalogue(products_path) if products_path is not None else None
    return stream, check, catalogue


def _short_capture_note(deadline: float, short: Sequence[str]) -> str:
    return (
        f"replay: the capture is shorter than the policies' {deadline:.0f} s deadline ({', '.join(short)}):"
        " one episode per product, its horizon the whole capture; an episode whose policy was still"
        " working when the data ended is censored (left out of IS, E and the paired comparison),"
        " so read completion and maker fill as shares within the horizon"
    )


def _plan_capture(config: BacktestConfig) -> BacktestPlan:
    stream, check, catalogue = _load_capture(config)
    return plan_stream(config, stream, check, catalogue)


def plan_stream(
    config: BacktestConfig,
    stream: EventStream,
    check: BookCheck | None = None,
    catalogue: Catalogue | None = None,
) -> BacktestPlan:
    """The plan of ``config`` on an already decoded capture (``config.data`` only names it)."""
    rates = dict(config.quote_usd)
    capture_end = float(stream.events["ts_ns"].max()) / 1e9 if len(stream.events) else 0.0
    venues: dict[tuple[Mode, str], Venue] = {}
    episodes: list[tuple[Mode, Episode]] = []
    calibrations: list[Calibration] = []
    skipped: list[str] = []
    notes: list[str] = []
    short: list[str] = []  # products whose capture is shorter than the deadline
    for scale in stream.products:
        if config.product is not None and scale.product_id != config.product:
            continue
        product = _product(scale, catalogue)
        rate = rates.get(product.quote_currency)
        if rate is None:
            skipped.append(
                f"{product.product_id}: quoted in {product.quote_currency}, no USD rate"
                f" (pass --quote-usd {product.quote_currency}=<dollars per {product.quote_currency}>)"
            )
            continue
        tape = product_tape(stream, scale.product_id)
        if len(tape) < 2:
            skipped.append(f"{product.product_id}: too few events")
            continue
        calibration_window, _ = split_window(Window(tape.start, tape.end), config.calibration_share)
        if Mode.REPLAY in config.modes:
            deadline = config.replay_deadline_sec or config.deadline_sec
            # The data lasts to the capture's end even where this product's last row came earlier.
            whole = Window(tape.first_book_time, max(tape.end, capture_end))
            drawn = replay_episodes(
                product.product_id, wanted=config.episodes, window=whole, deadline_sec=deadline,
                seed=config.seed, mode=Mode.REPLAY.value, sizes_usd=config.sizes_usd,
            )  # fmt: skip
            resyncs = resync_times(stream, stream.products.index(scale))
            kept = [e for e in drawn if not spans_a_gap(e, resyncs)]
            if len(kept) < len(drawn):
                notes.append(
                    f"replay {product.product_id}: {len(drawn) - len(kept)} of {len(drawn)} episodes dropped:"
                    " they span a feed gap (the book re-read from a fresh snapshot)"
                )
            venues[Mode.REPLAY, product.product_id] = _replay_venue(
                product, tape, rate, [e.arrival for e in kept], config.options
            )
            episodes += [(Mode.REPLAY, e) for e in kept]
            if whole.length < deadline:
                short.append(f"{product.product_id} {whole.length:.1f} s")
            elif len(drawn) < config.episodes:
                notes.append(
                    f"replay {product.product_id}: {len(drawn)} of {config.episodes} episodes fit"
                    f" without overlapping in {whole.length:.1f} s at a {deadline:.0f} s deadline"
                )
        if Mode.CALIBRATED in config.modes:
            from makerfirst.replay.calibrate import calibrate  # noqa: PLC0415 - see TYPE_CHECKING

            fitted = calibrate(tape, calibration_window)
            calibrations.append(fitted)
            venues[Mode.CALIBRATED, product.product_id] = SyntheticVenue(
                product, fitted.params, fitted.start_price, rate
            )
            drawn = synthetic_episodes(
                product.product_id, count=config.episodes, arrival=WARM_UP_SEC,
                deadline_sec=config.deadline_sec, seed=config.seed, mode=Mode.CALIBRATED.value,
                sizes_usd=config.sizes_usd,
            )  # fmt: skip
            episodes += [(Mode.CALIBRATED, e) for e in drawn]
    if short:
        notes.insert(0, _short_capture_note(config.replay_deadline_sec or config.deadline_sec, short))
    if not venues:
        raise MakerfirstError(
            "no product of the capture can be backtested: " + "; ".join(skipped or ["empty"])
        )
    return BacktestPlan(
        data=config.data,
        venues=venues,
        episodes=_numbered(episodes),
        rebuild=check,
        calibrations=tuple(calibrations),
        skipped=tuple(skipped),
        fill_model=config.options.fill_model,
        notes=tuple(notes),
    )


def _replay_venue(
    product: Product,
    tape: ProductTape,
    rate: Decimal,
    arrivals: Sequence[float],
    options: SimOptions,
) -> ReplayVenue:
    """The product's replay venue; on the compiled book, its book at every arrival taken in one
    pass over the capture (catch-up once, not per episode and policy)."""
    book_tape = BookTape.from_rows(tape.rows, tape.scale)  # its rows are the tape's, in order
    books = options.venues().arrival_books(book_tape, arrivals, options)
    return ReplayVenue(product, tape, rate, book_tape, books)


def _numbered(episodes: Sequence[tuple[Mode, Episode]]) -> tuple[tuple[Mode, Episode], ...]:
    """Modes first (plan order), then products; ``episode_id`` numbers the plan's episodes.

    An id is a position in this plan (for pairing and display); what an episode *is* (arrival,
    size, seed) depends only on its (mode, product, index)."""
    order = list(dict.fromkeys(mode for mode, _ in episodes))
    ranked = sorted(episodes, key=lambda item: order.index(item[0]))
    return tuple((mode, replace(e, episode_id=i)) for i, (mode, e) in enumerate(ranked))


# -- one episode ------------------------------------------------------------------------------------
class BookSampler:
    """A driver that changes nothing: every ``period_sec`` it records the best bid/ask and our
    resting sells (ticks), for the report's charts."""

    def __init__(self, start: float, period_sec: float, stop: float) -> None:
        self._next = start
        self._period = period_sec
        self._stop = stop
        self.rows: list[tuple[float, int | None, int | None, tuple[int, ...]]] = []

    def next_time(self) -> float:
        return self._next if self._next <= self._stop else NEVER

    def step(self, engine: MatchingEngine) -> list[Match]:
        if isinstance(engine, ReplayBook | CompiledEngine):
            ours = tuple(o.price for o in engine.our_resting() if o.side is Side.SELL)
        else:
            ours = tuple(
                price
                for price, _ in engine.levels(Side.SELL, 10)
                for order in engine.orders_at(Side.SELL, price)
                if order.ours
            )
        self.rows.append((self._next, engine.best_bid(), engine.best_ask(), ours))
        self._next += self._period
        return []


def _open_venue(
    venue: Venue, episode: Episode, options: SimOptions
) -> tuple[VirtualClock, SimulatedExchange]:
    product = venue.product
    balances = {product.base_currency: AMPLE_BASE, product.quote_currency: ZERO}
    settings = options.settings(episode.seed)
    if isinstance(venue, ReplayVenue):
        clock = VirtualClock(start=episode.arrival)
        exchange = options.venues().open(clock, venue, episode, balances, options)
    else:
        from makerfirst.adapters.sim.market import SyntheticMarket  # noqa: PLC0415 - see TYPE_CHECKING

        clock = VirtualClock(start=SYNTHETIC_START)
        exchange = SimulatedExchange(clock, [product], balances, settings)
        market: MarketDriver = (
            SyntheticMarket(product, venue.params, venue.start_price, clock.now(), episode.seed)
            if isinstance(venue, SyntheticVenue)
            else venue.make_market(clock.now(), episode.seed)
        )
        exchange.attach_market(product.product_id, market)
        clock.advance_to(SYNTHETIC_START + episode.arrival)
    exchange.advance()
    if isinstance(exchange, ReplayedExchange):
        exchange.mark_arrival()
    return clock, exchange


async def _until(work: Awaitable[str], clock: Clock, deadline: float) -> str:
    """Run ``work`` as a task and cancel it at ``deadline`` on ``clock``; ``CUT_OFF`` if it was."""
    task = asyncio.ensure_future(work)

    async def stop_at_deadline() -> None:
        await clock.sleep_until(deadline)
        task.cancel()

    guard = asyncio.ensure_future(stop_at_deadline())
    try:
        await asyncio.wait({task})
    finally:
        guard.cancel()
        await asyncio.gather(guard, return_exceptions=True)
    return CUT_OFF if task.cancelled() else task.result()


async def _wind_down(exchange: SimulatedExchange, clock: VirtualClock, product_id: str) -> None:
    """Cancel what is still open and let the venue run until every order is terminal."""
    open_ids = [o.order_id for o in exchange.all_orders() if not o.status.is_terminal]
    if open_ids:
        await exchange.cancel_orders(open_ids)
    settle = exchange.settings.cancel_queue_sec + exchange.settings.request_latency_sec
    for _ in range(100):
        if all(o.status.is_terminal for o in exchange.all_orders() if o.product_id == product_id):
            return
        await clock.sleep_until(clock.now() + max(settle, 0.01))
        exchange.advance()
    raise MakerfirstError(
        f"{product_id}: orders still open after the episode's wind-down"
    )  # pragma: no cover


_NO_TIMES = np.empty(0, np.float64)


class MidRecorder:
    """A driver that changes nothing: every ``period_sec`` until ``stop`` it records the best bid and
    ask (ticks), from which the markouts of our fills are read."""

    def __init__(self, start: float, period_sec: float, stop: float) -> None:
        self._next = start
        self._period = period_sec
        self._stop = stop
        self.times: list[float] = []
        self.mids: list[float | None] = []

    def next_time(self) -> float:
        return self._next if self._next <= self._stop else NEVER

    def step(self, engine: MatchingEngine) -> list[Match]:
        bid, ask = _market_touch(engine, Side.BUY), _market_touch(engine, Side.SELL)
        self.times.append(self._next)
        self.mids.append(None if bid is None or ask is None else (bid + ask) / 2)
        self._next += self._period
        return []

    def due(self, bound: float) -> np.ndarray:
        """The sample times ``step`` would take at or before ``bound`` (the replay venue takes them
        inside its compiled call: see ``venue.TouchSampler``), as ``step`` computes them: each the
        one before plus the period (``np.cumsum`` adds in order, so the floats are the same)."""
        last = min(bound, self._stop)
        if self._next > last:
            return _NO_TIMES
        steps = np.full(int((last - self._next) / self._period) + 2, self._period)
        steps[0] = self._next
        times = np.cumsum(steps)
        while times[-1] <= last:  # rounding drift of a whole period: extend as step() would
            times = np.append(times, times[-1] + self._period)
        return times[: int(times.searchsorted(last, side="right"))]

    def record(self, times: np.ndarray, bids: np.ndarray, asks: np.ndarray) -> None:
        """Take the samples at ``times`` (the first ones ``due`` gave): the touch in ticks, -1 where a
        side shows no level."""
        if not len(times):
            return
        mids: list[float | None] = ((bids + asks) / 2).tolist()  # int64 sum, then / 2: Python's mid
        for i in np.flatnonzero((bids < 0) | (asks < 0)).tolist():
            mids[i] = None
        self.times.extend(times.tolist())
        self.mids.extend(mids)
        self._next = float(times[-1]) + self._period

    def mid_at(self, when: float) -> float | None:
        """The last mid recorded at or before ``when``."""
        i = bisect.bisect_right(self.times, when) - 1
        return self.mids[i] if i >= 0 else None


def _market_touch(engine: MatchingEngine, side: Side, depth: int = 50) -> int | None:
    """The best price on ``side`` where someone other than us rests: a markout measures the market,
    and our own quote (the best ask, at bid + 1 tick) must not move the mid it is measured by."""
    if isinstance(engine, CompiledEngine):  # its levels are the market's alone
        return engine.best_bid() if side is Side.BUY else engine.best_ask()
    for price, _ in engine.levels(side, depth):
        if any(not order.ours for order in engine.orders_at(side, price)):
            return price
    return None


def _markouts(
    fills: Sequence[Fill], recorder: MidRecorder, data_end: float
) -> tuple[tuple[Markout, ...], tuple[tuple[int, int], ...]]:
    """Each fill's mid move after 1, 5, 30, 60 s (bps of the mid at the fill; a sell: up is adverse)."""
    marks: list[Markout] = []
    beyond: dict[int, int] = dict.fromkeys(MARKOUT_HORIZONS_SEC, 0)
    for f in fills:
        before = recorder.mid_at(f.time)
        for h in MARKOUT_HORIZONS_SEC:
            if f.time + h > data_end:
                beyond[h] += 1
                continue
            after = recorder.mid_at(f.time + h)
            if before is None or after is None or before <= 0:
                continue
            sign = 1.0 if f.side is Side.SELL else -1.0
            marks.append(Markout(h, sign * (after - before) / before * 10_000, float(f.size)))
    return tuple(marks), tuple(beyond.items())


def _lived_through(venue: Venue, exchange: SimulatedExchange) -> Volume | None:
    """The messages and level rows a replay episode applied after its arrival (None: not a replay)."""
    if isinstance(exchange, ReplayedExchange) and isinstance(venue, ReplayVenue):
        return exchange.lived_through()
    return None


def _taker_cap_bps(policy: Policy) -> int:
    """The cap every backtest policy's IOC is priced with: each sells as a purge."""
    return policy.portfolio_management.purge_execution.taker_max_slippage_bps


async def _run_episode(
    venue: Venue, spec: PolicySpec, episode: Episode, options: SimOptions, *, mode: Mode, trace: bool
) -> tuple[EpisodeResult, EpisodeTrace | None, Volume | None]:
    clock, exchange = _open_venue(venue, episode, options)
    product = venue.product
    pid = product.product_id
    arrival = clock.now()
    deadline = arrival + episode.deadline_sec
    data_end = arrival + episode.horizon_sec
    stop = arrival + episode.run_sec
    recorder = MidRecorder(arrival, MID_PERIOD_SEC, min(data_end, stop + max(MARKOUT_HORIZONS_SEC) + 1.0))
    exchange.attach_market(pid, recorder)
    sampler = None
    if trace:
        sampler = BookSampler(arrival, max(0.05, episode.run_sec / 400), stop + 1.0)
        exchange.attach_market(pid, sampler)
    book = exchange.book_now(pid)
    mid = book.mid
    size = max(product.size_floor(episode.size_usd / venue.usd_per_quote / mid), product.min_order_size(mid))
    policy = resolve_policy(spec.overrides, venue.usd_per_quote)
    references = TakerReferences()  # the touch each taker order was priced from, for the taker leg
    work = run_policy(
        spec,
        policy,
        exchange,
        clock,
        product_id=pid,
        size=size,
        seed=episode.seed,
        deadline=deadline,
        on_event=references.observe,
    )
    loop_outcome = await _until(work, clock, stop)
    censored = loop_outcome == CUT_OFF and stop < deadline  # the data ended first
    if loop_outcome == CUT_OFF:
        loop_outcome = "end_of_data" if censored else "deadline"
    await _wind_down(exchange, clock, pid)
    fills = [f for f in exchange.all_fills() if f.product_id == pid]
    filled = sum((f.size for f in fills), start=ZERO)
    residual = size - filled
    end_book = exchange.book_now(pid)
    completed = residual <= ZERO or not product.is_orderable(residual, end_book.best_bid)
    if not completed and clock.now() < stop:
        # The loop gave up early: what it left is sold at the deadline, like anyone's residual
        # (at the end of the data when that comes first: there is no later book to sell into).
        await clock.sleep_until(stop)
        exchange.advance()
        end_book = exchange.book_now(pid)
    residual_net = forced_sale_net(end_book, max(residual, ZERO), options.fees.taker)
    value = sum((f.price * f.size for f in fills), start=ZERO)
    paid = sum((f.fee for f in fills), start=ZERO)
    last_fill = max((f.time for f in fills), default=None)
    if last_fill is not None:  # let the market run on for the markouts (never past the data)
        until = min(data_end, last_fill + max(MARKOUT_HORIZONS_SEC) + MID_PERIOD_SEC)
        if clock.now() < until:
            await clock.sleep_until(until)
            exchange.advance()
    markouts, beyond = _markouts(fills, recorder, data_end)
    maker_fills = [f for f in fills if f.liquidity is Liquidity.MAKER]
    first_maker = min((f.time for f in maker_fills), default=None)
    result = EpisodeResult(
        episode_id=episode.episode_id,
        mode=mode.value,
        policy=spec.name,
        product_id=pid,
        size=size,
        arrival_mid=mid,
        filled_size=filled,
        filled_value=value,
        fees=paid,
        maker_size=sum((f.size for f in maker_fills), start=ZERO),
        maker_value=sum((f.size * f.price for f in maker_fills), start=ZERO),
        residual_size=max(residual, ZERO),
        residual_net=residual_net,
        completed=completed,
        censored=censored and not completed,
        time_to_complete_sec=(last_fill - arrival) if completed and last_fill is not None else None,
        time_to_first_fill_sec=first_maker - arrival if first_maker is not None else None,
        is_bps=implementation_shortfall_bps(
            Side.SELL, size, mid, filled_value=value, fees=paid, residual_value=residual_net
        ),
        market_sell_bps=market_sell_bps(book, size, options.fees.taker),
        perfect_maker_bps=perfect_maker_bps(book, options.fees.maker),
        loop_outcome=loop_outcome,
        orders=len(exchange.all_orders()),
        deadline_sec=episode.deadline_sec,
        horizon_sec=episode.horizon_sec,
        markouts=markouts,
        markouts_beyond_data=beyond,
        takers=taker_orders(
            (o for o in exchange.all_orders() if o.product_id == pid),
            fills,
            references.touches,
            _taker_cap_bps(policy),
        ),
        taker_cap_bps=_taker_cap_bps(policy),
    )
    volume = _lived_through(venue, exchange)
    if sampler is None:
        return result, None, volume
    tick = float(product.price_increment)
    rows = sampler.rows
    return (
        result,
        EpisodeTrace(
            policy=spec.name,
            mode=mode.value,
            episode_id=episode.episode_id,
            product_id=pid,
            arrival=arrival,
            deadline=stop,
            times=tuple(r[0] - arrival for r in rows),
            best_bids=tuple(None if r[1] is None else r[1] * tick for r in rows),
            best_asks=tuple(None if r[2] is None else r[2] * tick for r in rows),
            quotes=tuple((r[0] - arrival, p * tick) for r in rows for p in r[3]),
            fills=tuple((f.time - arrival, float(f.price), float(f.size), f.liquidity.value) for f in fills),
        ),
        volume,
    )


def run_episode(
    venue: Venue, spec: PolicySpec, episode: Episode, options: SimOptions, mode: Mode, *, trace: bool = False
) -> tuple[EpisodeResult, EpisodeTrace | None]:
    """Run ``spec`` on ``episode`` in ``venue`` (a fresh exchange and event loop)."""
    result, kept, _ = asyncio.run(_run_episode(venue, spec, episode, options, mode=mode, trace=trace))
    return result, kept


# -- whole backtests --------------------------------------------------------------------------------
def jobs(plan: BacktestPlan, policies: Sequence[PolicySpec]) -> list[tuple[Mode, Episode, PolicySpec]]:
    """Every (mode, episode, policy) of a plan, episode-major so partial runs stay paired."""
    return [(mode, episode, spec) for mode, episode in plan.episodes for spec in policies]


def summarize_results(
    results: Iterable[EpisodeResult],
    policies: Sequence[str],
    *,
    seed: int = 1,
    reference: str = REFERENCE_POLICY,
) -> tuple[PolicyMetrics, ...]:
    """One ``PolicyMetrics`` per (mode, policy), modes in plan order, policies in ``policies`` order;
    each compared paired with ``reference`` on the same mode's episodes when it ran too."""
    grouped: dict[tuple[str, str], list[EpisodeResult]] = {}
    for r in results:
        grouped.setdefault((r.mode, r.policy), []).append(r)
    modes = list(dict.fromkeys(mode for mode, _ in grouped))
    out = []
    for m in modes:
        for p in policies:
            if (m, p) not in grouped:
                continue
            metrics = summarize(grouped[m, p], seed=seed)
            theirs = grouped.get((m, reference))
            if theirs is not None and p != reference:
                metrics = replace(metrics, vs_reference=compare_paired(grouped[m, p], theirs, seed=seed))
            out.append(metrics)
    return tuple(out)


_T = TypeVar("_T")


def _run_alone(runner: asyncio.Runner, work: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(work)`` on ``runner``'s loop: one loop serves every episode (a fresh loop per
    episode costs a loop, a selector and a SIGINT handler each time), yet each episode still starts
    alone, as under ``asyncio.run``: in a fresh context, and what it left running is cancelled."""
    try:
        return runner.run(work, context=contextvars.copy_context())
    finally:
        left = asyncio.all_tasks(runner.get_loop())
        if left:
            for task in left:
                task.cancel()
            runner.run(_settled(left))


async def _settled(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def run_backtest(
    config: BacktestConfig,
    *,
    plan: BacktestPlan | None = None,
    on_result: Callable[[EpisodeResult], None] | None = None,
    traces: bool = False,
) -> BacktestResult:
    """Run every policy of ``config`` on every episode of its plan, in this process.

    ``traces``: keep a chart trace of the first episode of each (mode, policy).
    """
    plan = plan or plan_backtest(config)
    results: list[EpisodeResult] = []
    kept: list[EpisodeTrace] = []
    traced: set[tuple[Mode, str]] = set()
    counted = Volume(0, 0)
    runs, replay_seconds = 0, 0.0
    with asyncio.Runner() as runner:
        for mode, episode, spec in jobs(plan, config.policies):
            want_trace = traces and (mode, spec.name) not in traced
            venue = plan.venues[mode, episode.product_id]
            started = time.perf_counter()
            result, trace, volume = _run_alone(
                runner, _run_episode(venue, spec, episode, config.options, mode=mode, trace=want_trace)
            )
            if volume is not None:
                replay_seconds += time.perf_counter() - started
                runs += 1
                counted = Volume(counted.messages + volume.messages, counted.level_rows + volume.level_rows)
            results.append(result)
            if trace is not None:
                traced.add((mode, spec.name))
                kept.append(trace)
            if on_result is not None:
                on_result(result)
    metrics = summarize_results(results, [p.name for p in config.policies], seed=config.seed)
    count = _replay_count(plan, config, counted, runs, replay_seconds)
    return BacktestResult(plan, tuple(results), metrics, tuple(kept), count)


def _replay_count(
    plan: BacktestPlan, config: BacktestConfig, counted: Volume, runs: int, seconds: float
) -> ReplayCount | None:
    replays = [v for (m, _), v in plan.venues.items() if m is Mode.REPLAY and isinstance(v, ReplayVenue)]
    if not replays:
        return None
    catch_up = sum(v.arrivals.seconds for v in replays if v.arrivals is not None)
    book = ReplayBookKind.COMPILED if config.options.compiled_replay else ReplayBookKind.ORACLE
    return ReplayCount(book.value, runs, counted.messages, counted.level_rows, catch_up + seconds, catch_up)


def backtest_json(result: BacktestResult, config: BacktestConfig) -> dict[str, object]:
    """The ``--json`` shape: configuration, the rebuild check, calibrations and every policy's metrics."""
    plan = result.plan
    rebuild = (
        None
        if plan.rebuild is None
        else {
            "messages_compared": plan.rebuild.messages_compared,
            "mismatches": plan.rebuild.mismatches,
            "crossed": plan.rebuild.crossed,
            "first_problem": plan.rebuild.first_problem,
        }
    )
    return {
        "data": plan.data,
        "fill_model": plan.fill_model.value,
        "seed": config.seed,
        "episodes": len(plan.episodes),
        "products": sorted({pid for _, pid in plan.venues}),
        "skipped": list(plan.skipped),
        "notes": list(plan.notes),
        "rebuild_check": rebuild,
        "calibration": [c.as_json() for c in plan.calibrations],
        "policies": {p.name: {"kind": p.kind.value, "overrides": list(p.overrides)} for p in config.policies},
        "metrics": [m.as_json() for m in result.metrics],
        "replay": None if result.replay is None else result.replay.as_json(),
    }
