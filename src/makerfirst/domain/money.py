"""Exact money helpers: every price and size is a ``Decimal`` built from a string (or integer
ticks and lots in the matching engine's loop); no float is ever turned into money."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

ZERO = Decimal(0)
BPS = Decimal(10_000)


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``increment``."""
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Round ``value`` up to a multiple of ``increment``."""
    return (value / increment).to_integral_value(rounding=ROUND_CEILING) * increment


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` lies exactly on the ``increment`` grid."""
    return value % increment == 0


def plain(value: Decimal) -> str:
    """A decimal string without exponent notation, trailing zeros trimmed (``'0.0145'``, ``'16.19'``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def usd(value: Decimal) -> str:
    """Dollars for log lines: two decimals, half-even (``$16.19``)."""
    return f"${value.quantize(Decimal('0.01')):,}"
