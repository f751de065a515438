"""Coinbase's REST rate limits as token buckets: ~30 requests/s per key, ~10/s per IP in public."""

from __future__ import annotations

from dataclasses import dataclass

from makerfirst.clock import Clock


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per second; a bucket holds one second's worth, so bursts up to the rate pass."""

    private_per_sec: float = 30.0
    public_per_sec: float = 10.0


class TokenBucket:
    """``rate_per_sec`` tokens a second, at most ``rate_per_sec`` saved up; one token per request."""

    def __init__(self, rate_per_sec: float, clock: Clock) -> None:
        self._rate = rate_per_sec
        self._clock = clock
        self._tokens = rate_per_sec
        self._last = clock.now()

    def take(self) -> bool:
        """Spend a token if one is there; False means answer 429."""
        now = self._clock.now()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class RateLimiter:
    """One bucket per caller: per key name for private routes, per client address for public ones."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[tuple[bool, str], TokenBucket] = {}

    def allow(self, *, private: bool, caller: str) -> bool:
        bucket = self._buckets.get((private, caller))
        if bucket is None:
            rate = self._limits.private_per_sec if private else self._limits.public_per_sec
            bucket = self._buckets[private, caller] = TokenBucket(rate, self._clock)
        return bucket.take()
