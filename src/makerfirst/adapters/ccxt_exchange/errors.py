"""The adapter's refinements of ``ExchangeError``, kept importable here; they live in the one
error tree (``makerfirst.domain.errors``, whose docstring draws it and says what the caller does):

ExchangeError
├── VenueUnavailableError   no usable answer (timeout, network, 5xx) after a read's retries
└── VenueRefusedError       the venue answered and refused; ``codes`` holds its reasons
"""

from __future__ import annotations

from makerfirst.domain.errors import VenueRefusedError as VenueRefusedError  # noqa: PLC0414  # re-exported
from makerfirst.domain.errors import VenueUnavailableError as VenueUnavailableError  # noqa: PLC0414  # re-exported
