"""Intents: what to trade and why. The purpose, never a client-id prefix, decides behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from makerfirst.domain.orders import Side


class Purpose(StrEnum):
    NORMAL = "normal"  # liquid T1/T2 trading: spread-based TTL, no taker fallback
    PURGE = "purge"  # getting out of illiquid junk: purge TTLs, taker fallback under the threshold


@dataclass(frozen=True, slots=True)
class SizeBase:
    """A size in base units (``1116`` PENGU)."""

    amount: Decimal


@dataclass(frozen=True, slots=True)
class SizeUsd:
    """A size in quote units, converted to base at the arrival mid (``$500`` of BTC)."""

    amount: Decimal


Size = SizeBase | SizeUsd


@dataclass(frozen=True, slots=True)
class TradeIntent:
    """What to trade and why. Purges only ever sell; rebalancing sells and buys."""

    product_id: str
    size: Size
    purpose: Purpose
    side: Side = Side.SELL
