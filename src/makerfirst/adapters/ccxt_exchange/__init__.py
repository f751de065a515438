"""The ccxt adapter: :class:`CcxtExchange` implements the exchange port over ``ccxt.async_support``.

Coinbase Advanced Trade is the default venue; other ccxt exchanges are reached by id through
the capability table in :mod:`.capabilities`. Venue payloads are parsed in :mod:`.parsing` and
nowhere else.
"""

from makerfirst.adapters.ccxt_exchange.capabilities import VenueCapabilities, capabilities_for
from makerfirst.adapters.ccxt_exchange.credentials import ApiCredentials, load_credentials
from makerfirst.adapters.ccxt_exchange.errors import VenueRefusedError, VenueUnavailableError
from makerfirst.adapters.ccxt_exchange.exchange import CcxtExchange
from makerfirst.adapters.ccxt_exchange.resilience import RetryPolicy

__all__ = [
    "ApiCredentials",
    "CcxtExchange",
    "RetryPolicy",
    "VenueCapabilities",
    "VenueRefusedError",
    "VenueUnavailableError",
    "capabilities_for",
    "load_credentials",
]
