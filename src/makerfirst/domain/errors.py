"""Every error makerfirst raises on purpose, in one tree. Each says what the caller must do, and
keeps its cause (``raise ... from``):

    MakerfirstError                      base: a one-line message naming the field, file or order
    ├── InputError                       STOP and fix the input the message names; never retried
    │   ├── PolicyError                  the policy file or a --set override (``problems``: one line each)
    │   ├── DatabaseUrlError             --db names no database this process can open
    │   ├── ProductsFileError            --products-file is unreadable (file, product, field named)
    │   ├── CaptureFormatError           a capture's line cannot be decoded: fix or re-capture the file
    │   ├── WorldFormatError             the paper world kept in the database: start another --db
    │   ├── ApiUrlError                  --api-url is malformed or unusable for this exchange
    │   ├── LiveTradingNotConfirmedError a venue outside this machine: pass --live, or point at 127.0.0.1
    │   ├── CredentialsError             the sim-server's key file (--credentials-in) cannot be used
    │   └── ConfirmationError            the kill switch's confirmation phrase is wrong: ask again
    ├── ProductNotFoundError             the product id is unknown: fix the symbol or the products file
    ├── ExchangeError                    the venue misbehaved or refused
    │   ├── RateLimitedError             RETRY LATER, after ``retry_after_sec``
    │   ├── VenueUnavailableError        no usable answer after a read's retries: retry next cycle;
    │   │                                after a write, its effect is unknown (see below)
    │   ├── PayloadError                 an answer the adapter cannot read: treated as unavailable
    │   ├── VenueRefusedError            the venue answered and refused (``codes``): do not resend it
    │   ├── OrderStateUnknownError       RECONCILE by client id before anything else; NEVER RESEND blind
    │   │   └── CancelUnconfirmedError   a cancel not confirmed terminal; ``last`` is the last read
    │   ├── OrderNotFoundError           the id is not known to the venue: reconcile, do not retry
    │   └── AuthenticationError          STOP the bot: the credentials or their permissions are wrong
    ├── EmptyBookError (also ValueError) the book side a decision needs is empty: skip, RE-QUOTE later
    └── IllegalTransitionError (also ValueError)
                                         a stale or impossible order event: the record is unchanged

A post-only order that would cross is not an error: it is the event
``OrderRejected(reason=POST_ONLY_WOULD_CROSS)`` and the caller RE-QUOTES (one tick wider).

Outside the tree on purpose: the sim-server's ``AuthError``, ``ApiError``, ``MarketDataError`` and
its feed's ``_ClosedError`` (in ``adapters/sim_server``) are the *server's* answers to its HTTP and
WebSocket clients, turned into status codes or a closed connection there; they never reach the
bot. Every class here keeps an import path at the module that raises it (e.g.
``makerfirst.policy.PolicyError``), so existing callers keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the domain's own type; only for the annotation (orders never import errors)
    from makerfirst.domain.orders import OrderReport


class MakerfirstError(Exception):
    """Base of every error makerfirst raises on purpose."""


# -- input: stop and fix what the message names ---------------------------------------------------
class InputError(MakerfirstError):
    """Bad input from the operator (an option, a file, a stored document). The CLI prints the
    message on one line and exits 2; retrying with the same input cannot succeed."""


class PolicyError(InputError):
    """The policy could not be loaded or is invalid; ``problems`` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[PolicyError], tuple[list[str]]]:
        # Rebuilt from its problems, not its message: a sweep's worker process sends it back pickled.
        return (PolicyError, (self.problems,))


class DatabaseUrlError(InputError):
    """``--db`` names no database this process can open; the message says why and what to pass."""


class ProductsFileError(InputError):
    """The products file cannot be read; the message names the file, the product and the field."""


class CaptureFormatError(InputError):
    """A capture cannot be decoded (bad line, sequence gap, off-increment value).

    The message names the file and the 1-based line. Fix or re-capture the file: a replay that
    skipped the line would rebuild a wrong book without saying so.
    """

    def __init__(self, path: Path, line_no: int, what: str) -> None:
        super().__init__(f"{path}:{line_no}: {what}")
        self.path = path
        self.line_no = line_no

    def __reduce__(self) -> tuple[type[CaptureFormatError], tuple[Path, int, str]]:
        # A sweep's worker process sends it back pickled; rebuilt from its parts.
        what = str(self).removeprefix(f"{self.path}:{self.line_no}: ")
        return (CaptureFormatError, (self.path, self.line_no, what))


class WorldFormatError(InputError):
    """A stored paper world this version cannot read: start a new one with another ``--db``."""


class ApiUrlError(InputError):
    """``--api-url`` cannot be used for this exchange, or it is malformed."""


class LiveTradingNotConfirmedError(InputError):
    """The run would reach a venue outside this machine without ``--live``."""


class CredentialsError(InputError, ValueError):
    """A key file cannot be used; the message names the file and what is wrong, never the key."""


class ConfirmationError(InputError, ValueError):
    """A kill switch or resume request without the confirmation phrase: nothing was done; ask the
    operator to confirm."""


class ProductNotFoundError(MakerfirstError):
    """The product id is not known: fix the symbol, or pass the products file that has it."""


# -- the venue ------------------------------------------------------------------------------------
class ExchangeError(MakerfirstError):
    """The venue misbehaved or refused. The runner skips the cycle (or ends the one trade loop) and
    reconciles at the next; the subclasses say more precisely what to do."""


class RateLimitedError(ExchangeError):
    """Too many requests: retry later, after ``retry_after_sec``."""

    def __init__(self, message: str, retry_after_sec: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_sec = retry_after_sec


class VenueUnavailableError(ExchangeError):
    """The venue did not answer usefully (timeout, network, 5xx). Reads were already retried: try
    again next cycle. A write's effect is unknown: reconcile before sending anything else."""


class PayloadError(ExchangeError):
    """The venue answered something the adapter cannot read (a field missing or malformed)."""


class VenueRefusedError(ExchangeError):
    """The venue answered and refused; ``codes`` holds its reasons. Resending the same request gets
    the same answer: change it (price, size) or give up."""

    def __init__(self, message: str, codes: tuple[str, ...] = (), venue_message: str = "") -> None:
        super().__init__(message)
        self.codes = codes
        self.venue_message = venue_message


class OrderStateUnknownError(ExchangeError):
    """A request that may have changed an order got no answer: reconcile by client id before
    anything else, and never resend blind (a second order could fill as well)."""


class CancelUnconfirmedError(OrderStateUnknownError):
    """The order was still not terminal when the confirm gave up; ``last`` is the last read."""

    def __init__(self, message: str, last: OrderReport) -> None:
        super().__init__(message)
        self.last = last


class OrderNotFoundError(ExchangeError):
    """The venue does not know the id: reconcile (it may never have been placed); do not retry."""


class AuthenticationError(ExchangeError):
    """Stop the bot: the credentials or their permissions are wrong, and every later request would
    fail the same way."""


# -- decisions ------------------------------------------------------------------------------------
class EmptyBookError(MakerfirstError, ValueError):
    """The side of the book a decision needs has no levels: nothing to price from. Skip the order
    and re-quote from a later book."""


class IllegalTransitionError(MakerfirstError, ValueError):
    """An order was asked to move between two statuses the lifecycle does not connect: a stale or
    impossible event. Nothing was changed."""
