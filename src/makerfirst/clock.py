"""Time is a dependency: the system clock live, a virtual clock in simulations and tests.

A 25-second TTL on the virtual clock takes no wall time at all. Several tasks may sleep on it at
once (one purge per product, the order manager, the cycle): time only moves when every task that
can run has reached its next sleep, and then straight to the earliest deadline, so the tasks
interleave exactly as they would in real time, deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Protocol

# Scheduler rounds a sleeping task yields before it concludes that every other task is asleep too.
# In-process simulation work never suspends except on the clock, so one round is enough in
# practice; a few more make room for tasks that chain through futures (TaskGroup joins).
_IDLE_ROUNDS = 4


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
    """A clock that jumps to the earliest deadline once every task is waiting on it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._activity = 0  # bumps on every sleep and every jump: "something happened"

    def now(self) -> float:
        return self._now

    def advance_to(self, deadline: float) -> None:
        """Move time forward outside any task (set-up, warm-up). Never moves backwards."""
        self._now = max(self._now, deadline)

    async def sleep_until(self, deadline: float) -> None:
        self._activity += 1
        if deadline <= self._now:
            await asyncio.sleep(0)  # a zero sleep still lets other ready tasks run
            return
        wake = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._waiters, (deadline, self._seq, wake))
        try:
            while not wake.done():
                seen = self._activity
                for _ in range(_IDLE_ROUNDS):
                    await asyncio.sleep(0)
                if not wake.done() and self._activity == seen:
                    self._wake_earliest()
        finally:
            if not wake.done():
                wake.cancel()  # a cancelled sleeper must not pull time forward later

    def _wake_earliest(self) -> None:
        while self._waiters:
            when, _, first = heapq.heappop(self._waiters)
            if first.done():
                continue
            self._now = max(self._now, when)
            self._activity += 1
            first.set_result(None)
            return
