"""Time is a dependency: the system clock live, a virtual clock in simulations and tests.

A 25-second TTL on the virtual clock takes no wall time at all: ``sleep_until`` just moves
the clock forward. The virtual clock serves one task at a time (the execution engine and the
simulator run in one task); it never moves backwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """A clock that jumps: ``sleep_until`` advances it instantly."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance_to(self, deadline: float) -> None:
        self._now = max(self._now, deadline)

    async def sleep_until(self, deadline: float) -> None:
        self.advance_to(deadline)
        await asyncio.sleep(0)  # let other ready tasks run, as a real sleep would
