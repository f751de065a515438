"""The composition root names the replay venue: the backtest runs on whatever ``SimOptions.replay_venues``
hands it, and by default on ``bootstrap.build_replay_venues()``."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest

from makerfirst import bootstrap
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.clock import VirtualClock
from makerfirst.replay.backtest import (
    BacktestConfig,
    Mode,
    ReplayBookKind,
    ReplayedExchange,
    ReplayVenue,
    SimOptions,
    run_backtest,
)
from makerfirst.replay.cbook import BookTape
from makerfirst.replay.episodes import Episode
from makerfirst.replay.venue import ArrivalBooks, CompiledReplayExchange
from simkit import COINBASE_THIN

CAPTURE = COINBASE_THIN / "ws-feed.txt"
BACKTEST_SOURCE = Path(bootstrap.__file__).parent / "replay" / "backtest.py"


@dataclass
class CountingVenues:
    """The composition root's replay venues, counting what the backtest asked of them."""

    inner: bootstrap.ReplayVenueFactory = field(default_factory=bootstrap.build_replay_venues)
    prepared: list[int] = field(default_factory=list)
    opened: list[type] = field(default_factory=list)

    def arrival_books(
        self, tape: BookTape, arrivals: Sequence[float], options: SimOptions
    ) -> ArrivalBooks | None:
        self.prepared.append(len(arrivals))
        return self.inner.arrival_books(tape, arrivals, options)

    def open(
        self,
        clock: VirtualClock,
        venue: ReplayVenue,
        episode: Episode,
        balances: dict[str, Decimal],
        options: SimOptions,
    ) -> SimulatedExchange:
        exchange = self.inner.open(clock, venue, episode, balances, options)
        self.opened.append(type(exchange))
        return exchange


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real capture {path} is absent (set MAKERFIRST_DATA_DIR to the shared data folder)")
    return path


@pytest.mark.parametrize("book", list(ReplayBookKind))
def test_the_backtest_runs_on_the_venues_it_is_handed(book: ReplayBookKind, tmp_path: Path) -> None:
    venues = CountingVenues()
    options = SimOptions(replay_book=book, replay_venues=venues)
    config = BacktestConfig(
        data=str(_need(CAPTURE)), modes=(Mode.REPLAY,), options=options, cache_dir=tmp_path
    )
    result = run_backtest(config)
    episodes = len(result.plan.episodes)
    assert venues.prepared and sum(venues.prepared) == episodes  # one checkpoint pass per product
    assert len(venues.opened) == episodes * len(config.policies)
    expected = "CompiledReplayExchange" if book is ReplayBookKind.COMPILED else "ReplayExchange"
    assert {t.__name__ for t in venues.opened} == {expected}
    assert all(issubclass(t, ReplayedExchange) for t in venues.opened)
    assert result.replay is not None and result.replay.messages > 0  # counted through the protocol


def test_by_default_the_composition_roots_venues_are_used(tmp_path: Path) -> None:
    default = run_backtest(BacktestConfig(data=str(_need(CAPTURE)), modes=(Mode.REPLAY,), cache_dir=tmp_path))
    handed = SimOptions(replay_venues=bootstrap.build_replay_venues())
    explicit = run_backtest(
        BacktestConfig(data=str(CAPTURE), modes=(Mode.REPLAY,), options=handed, cache_dir=tmp_path)
    )
    assert default.results == explicit.results


def test_the_oracle_needs_no_checkpoints() -> None:
    oracle = SimOptions(replay_book=ReplayBookKind.ORACLE)
    assert bootstrap.build_replay_venues().arrival_books(None, [1.0], oracle) is None  # type: ignore[arg-type]
    assert replace(oracle, replay_book=ReplayBookKind.COMPILED).compiled_replay


def test_the_backtest_names_no_concrete_replay_venue() -> None:
    """What replay/backtest.py constructs is the composition root's choice: it imports neither
    exchange nor the checkpoint pass."""
    tree = ast.parse(BACKTEST_SOURCE.read_text())
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    concrete = {CompiledReplayExchange.__name__, "ReplayExchange", "arrival_checkpoints"}
    assert not (imported | used) & concrete
