"""Adaptive maker TTL: how long a post-only order may rest before it is cancelled and re-priced."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from makerfirst.domain.intents import Purpose
from makerfirst.policy import Policy


def adaptive_maker_ttl_sec(purpose: Purpose, attempt_index: int, spread_bps: Decimal, policy: Policy) -> int:
    """TTL in seconds for maker attempt ``attempt_index`` (0 = first) of an intent with ``purpose``.

    Purges get the purge TTLs (``maker_first_ttl_sec`` then ``maker_retry_ttl_sec``): thin books
    need time before an order reaches the top. Normal trading scales with the spread, from the
    attempt's minimum (a tight book refreshes fast) up to ``maker_max_ttl_sec`` at
    ``ttl_full_spread_bps`` or wider. The decision reads the typed purpose, never a client id.
    """
    if purpose is Purpose.PURGE:
        purge = policy.portfolio_management.purge_execution
        return purge.maker_first_ttl_sec if attempt_index == 0 else purge.maker_retry_ttl_sec
    normal = policy.execution
    low = normal.maker_first_min_ttl_sec if attempt_index == 0 else normal.maker_retry_min_ttl_sec
    high = normal.maker_max_ttl_sec
    share = min(Decimal(1), max(Decimal(0), spread_bps) / Decimal(normal.ttl_full_spread_bps))
    return int((low + (high - low) * share).to_integral_value(rounding=ROUND_HALF_UP))
