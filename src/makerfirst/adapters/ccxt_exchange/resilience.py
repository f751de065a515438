"""Staying within a venue's request limits, and backing off when it says we did not.

Both run on the injected :class:`~makerfirst.clock.Clock`: on a virtual clock a full backoff
schedule takes no wall time, and no code here calls ``asyncio.sleep`` itself.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass

from makerfirst.adapters.ccxt_exchange.capabilities import RequestBudget
from makerfirst.clock import Clock


class SlidingWindowLimiter:
    """Admits at most ``budget.max_requests`` requests in any window of ``budget.per_sec`` seconds.

    A sliding log rather than a token bucket: a bucket refilled at the rate with a full burst
    allowance admits up to twice the limit within one second, which is what gets a key throttled.
    Waiters are served in arrival order.
    """

    def __init__(self, clock: Clock, budget: RequestBudget) -> None:
        if budget.max_requests < 1 or budget.per_sec <= 0:
            raise ValueError(f"a request budget needs max_requests >= 1 and per_sec > 0, got {budget}")
        self._clock = clock
        self._budget = budget
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int = 1) -> None:
        """Wait until ``cost`` more requests fit in the window, then record them as sent now."""
        async with self._lock:
            for _ in range(cost):
                while True:
                    now = self._clock.now()
                    while self._sent and self._sent[0] <= now - self._budget.per_sec:
                        self._sent.popleft()
                    if len(self._sent) < self._budget.max_requests:
                        break
                    await self._clock.sleep_until(self._sent[0] + self._budget.per_sec)
                self._sent.append(self._clock.now())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff, capped, with jitter.

    ``rate_limit_attempts`` bounds how often a throttled request is tried in all;
    ``transient_attempts`` how often a read that met a timeout, a network error or a 5xx is.
    """

    base_delay_sec: float = 0.25
    max_delay_sec: float = 8.0
    rate_limit_attempts: int = 6
    transient_attempts: int = 3
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) * d, d]

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        ceiling = min(self.max_delay_sec, self.base_delay_sec * 2.0 ** max(0, attempt - 1))
        return ceiling * (1 - self.jitter * rng.random())
