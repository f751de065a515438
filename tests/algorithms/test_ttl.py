"""Adaptive maker TTL: purge TTLs from the purpose, normal TTLs from the spread within their bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.algorithms.ttl import adaptive_maker_ttl_sec
from makerfirst.domain.intents import Purpose
from makerfirst.policy import Policy

POLICY = Policy()


@pytest.mark.parametrize(("attempt", "ttl"), [(0, 25), (1, 20), (2, 20), (7, 20)])
def test_purge_uses_first_then_retry_ttl(attempt: int, ttl: int) -> None:
    assert adaptive_maker_ttl_sec(Purpose.PURGE, attempt, Decimal("0.01"), POLICY) == ttl


@pytest.mark.parametrize(
    ("attempt", "spread_bps", "ttl"),
    [
        (0, "0", 12),
        (0, "0.001", 12),  # BTC-like: a tick-wide spread gets the minimum
        (0, "10", 14),  # halfway to ttl_full_spread_bps (20): 12 + 3 × 0.5 rounded half up
        (0, "20", 15),
        (0, "500", 15),  # never beyond maker_max_ttl_sec
        (1, "0", 8),
        (1, "10", 12),  # 8 + 7 × 0.5 = 11.5 → 12
        (3, "40", 15),
    ],
)
def test_normal_ttl_scales_with_spread_within_bounds(attempt: int, spread_bps: str, ttl: int) -> None:
    assert adaptive_maker_ttl_sec(Purpose.NORMAL, attempt, Decimal(spread_bps), POLICY) == ttl


def test_purpose_decides_not_any_id() -> None:
    # The same spread and attempt give the purge TTL only for the purge purpose.
    assert adaptive_maker_ttl_sec(Purpose.NORMAL, 0, Decimal("5"), POLICY) != 25
