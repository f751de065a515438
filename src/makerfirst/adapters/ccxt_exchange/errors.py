"""The adapter's own refinements of the domain's ``ExchangeError`` (see ``domain.errors``).

ExchangeError
├── VenueUnavailableError   no usable answer (timeout, network, 5xx) after a read's retries
└── VenueRefusedError       the venue answered and refused; ``codes`` holds its reasons
"""

from __future__ import annotations

from makerfirst.domain.errors import ExchangeError


class VenueUnavailableError(ExchangeError):
    """The venue did not answer usefully. Reads were retried; a write's effect is unknown."""


class VenueRefusedError(ExchangeError):
    def __init__(self, message: str, codes: tuple[str, ...] = (), venue_message: str = "") -> None:
        super().__init__(message)
        self.codes = codes
        self.venue_message = venue_message
