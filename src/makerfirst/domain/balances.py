"""What the venue says we hold, per currency: free to use, and on hold for resting orders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.money import ZERO


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency's account as the venue reports it (Coinbase: ``available_balance`` and
    ``hold``; ccxt's unified balance: ``free`` and ``used``)."""

    available: Decimal
    hold: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Everything the venue holds for us in this currency, resting orders' holds included."""
        return self.available + self.hold


def totals(sheet: Mapping[str, Balance]) -> dict[str, Decimal]:
    """Currency → everything held, from one balance sheet."""
    return {currency: balance.total for currency, balance in sheet.items()}


def available(sheet: Mapping[str, Balance], currency: str) -> Decimal:
    balance = sheet.get(currency)
    return balance.available if balance is not None else ZERO
