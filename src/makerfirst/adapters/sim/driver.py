"""What moves a simulated market: a driver acts on the matching engine at its own event times.

The synthetic market is one driver; a scripted list of actions (tests) is another; a replay
of real L2 data will be a third. The exchange interleaves them with its own timers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.domain.orders import Side

NEVER = math.inf


class MarketDriver(Protocol):
    def next_time(self) -> float:
        """Time of the next action, or ``NEVER``."""
        ...

    def step(self, engine: MatchingEngine) -> list[Match]:
        """Perform the action due at ``next_time()`` and return the executions it caused."""
        ...


@runtime_checkable
class ReportsVolume(Protocol):
    """A driver that knows its market's 24 h volume (a synthetic market's long-run rate), where
    the simulator's own short history would understate it."""

    def volume_24h_quote(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PlaceLimit:
    """A market participant rests (or crosses with) a limit order, in ticks and lots."""

    order_id: str
    side: Side
    price: int
    lots: int


@dataclass(frozen=True, slots=True)
class Cancel:
    order_id: str


@dataclass(frozen=True, slots=True)
class MarketOrder:
    """A market participant takes liquidity: ``side`` is the aggressor's side."""

    order_id: str
    side: Side
    lots: int


Action = PlaceLimit | Cancel | MarketOrder


def apply_action(engine: MatchingEngine, action: Action) -> list[Match]:
    """Carry out one market participant's action on the book."""
    if isinstance(action, PlaceLimit):
        return engine.submit(action.order_id, action.side, action.price, action.lots, ours=False, rest=True)
    if isinstance(action, MarketOrder):
        return engine.submit(action.order_id, action.side, None, action.lots, ours=False, rest=False)
    engine.cancel(action.order_id)
    return []


class ScriptedMarket:
    """A driver that plays a fixed list of ``(time, action)`` pairs: exact scenarios for tests."""

    def __init__(self, script: Iterable[tuple[float, Action]]) -> None:
        self._script = sorted(script, key=lambda item: item[0])
        self._index = 0

    def next_time(self) -> float:
        return self._script[self._index][0] if self._index < len(self._script) else NEVER

    def step(self, engine: MatchingEngine) -> list[Match]:
        _, action = self._script[self._index]
        self._index += 1
        return apply_action(engine, action)
