"""Errors say what the caller must do, and keep their cause.

    MakerfirstError
    ├── ExchangeError                 the venue misbehaved or refused
    │   ├── RateLimitedError          retry later, after ``retry_after_sec``
    │   ├── OrderStateUnknownError    reconcile by client id; never resend blind
    │   ├── OrderNotFoundError        the id is not known to the venue
    │   └── AuthenticationError       stop: the credentials are wrong
    └── ProductNotFoundError          the product id is not known (fix the symbol or products file)

A post-only order that would cross is not an error: it is the event
``OrderRejected(reason=POST_ONLY_WOULD_CROSS)`` and the caller re-quotes.
"""

from __future__ import annotations


class MakerfirstError(Exception):
    """Base of every error makerfirst raises on purpose."""


class ExchangeError(MakerfirstError):
    pass


class RateLimitedError(ExchangeError):
    def __init__(self, message: str, retry_after_sec: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_sec = retry_after_sec


class OrderStateUnknownError(ExchangeError):
    """A request that may have changed an order got no answer: reconcile before anything else."""


class OrderNotFoundError(ExchangeError):
    pass


class AuthenticationError(ExchangeError):
    pass


class ProductNotFoundError(MakerfirstError):
    pass
