"""Fault injection for the Coinbase-compatible server: what a flaky venue does to a client.

A :class:`FaultPlan` is plain data (built in tests, or parsed from ``--faults``); a
:class:`FaultInjector` is its running state. Every fault that hits "some" requests takes a
:class:`Trigger`: either the next ``count`` eligible requests, or each eligible request with a
``probability`` drawn from a generator seeded per fault kind, so runs are reproducible and one
fault's draws never shift another's.

``--faults`` syntax (comma-separated ``key=value``; every key optional)::

    latency=SECONDS          added to every request before it is served
    rate429=TRIGGER          answer HTTP 429 with an HTML page (any API request)
    error5xx=TRIGGER         answer HTTP 503 (any API request)
    error5xx_body=html|json  the 503's body: a gateway HTML page (default) or {"error":"INTERNAL",...}
    create_timeout=TRIGGER   POST /orders creates the order, holds the answer for `hang` seconds,
                             then drops the connection without answering
    stall=TRIGGER            any API request is held `hang` seconds, never served, then its connection
                             is dropped: the client sees a timeout and nothing happened
    hang=SECONDS             how long create_timeout and stall hold a request (default 15)
    cancel_5xx_after_fill=TRIGGER
                             a batch_cancel naming an order that has filled answers 503, cancels nothing
    seed=INT                 seed for the probabilities (default 0)

    KIND@ROUTE=TRIGGER       rate429, error5xx or stall on one route only, counted apart from the
                             same fault on every route, e.g. ``error5xx@fills=3`` (the next three
                             fills requests answer 503). Routes: see ``ROUTES``.

    TRIGGER: a whole number N = the next N eligible requests ("create_timeout=1");
             a decimal P in [0, 1] = each eligible request with probability P ("rate429=0.1").

Example: ``latency=0.05,rate429=0.1,error5xx=0.05,create_timeout=1,cancel_5xx_after_fill=1``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    RATE_429 = "rate429"
    ERROR_5XX = "error5xx"
    CREATE_TIMEOUT = "create_timeout"
    CANCEL_5XX_AFTER_FILL = "cancel_5xx_after_fill"
    STALL = "stall"


# The faults that the gate applies before any route, and so can be aimed at one route.
ROUTABLE = (FaultKind.RATE_429, FaultKind.ERROR_5XX, FaultKind.STALL)

# Route names for ``KIND@ROUTE`` → "METHOD path" as the app routes it (below /api/v3/brokerage).
ROUTES: dict[str, str] = {
    "create": "POST /orders",
    "cancel": "POST /orders/batch_cancel",
    "orders": "GET /orders/historical/batch",
    "fills": "GET /orders/historical/fills",
    "order": "GET /orders/historical/{order_id}",
    "accounts": "GET /accounts",
    "account": "GET /accounts/{account_uuid}",
    "products": "GET /products",
    "product": "GET /products/{product_id}",
    "book": "GET /product_book",
    "best_bid_ask": "GET /best_bid_ask",
    "transaction_summary": "GET /transaction_summary",
}


class ErrorBody(StrEnum):
    HTML = "html"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Trigger:
    """Which eligible requests a fault hits: the next ``count``, or each with ``probability``."""

    count: int = 0
    probability: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 0 or not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"a trigger needs count >= 0 and 0 <= probability <= 1, got {self}")
        if self.count and self.probability:
            raise ValueError("a trigger is either a count or a probability, not both")

    @classmethod
    def first(cls, count: int) -> Trigger:
        return cls(count=count)

    @classmethod
    def chance(cls, probability: float) -> Trigger:
        return cls(probability=probability)

    @classmethod
    def parse(cls, text: str) -> Trigger:
        """``"3"`` → the next 3; ``"0.25"`` → probability 0.25 (see the module docstring)."""
        if text.isdigit():
            return cls(count=int(text))
        try:
            probability = float(text)
        except ValueError:
            raise ValueError(f"expected a whole number or a probability, got {text!r}") from None
        return cls(probability=probability)


NEVER = Trigger()
DEFAULT_HANG_SEC = 15.0  # longer than ccxt's default 10 s timeout: the client gives up first


@dataclass(frozen=True, slots=True)
class RoutedFault:
    """One of the gate's faults (``ROUTABLE``) aimed at one route (a key of ``ROUTES``)."""

    kind: FaultKind
    route: str
    trigger: Trigger

    def __post_init__(self) -> None:
        if self.kind not in ROUTABLE:
            raise ValueError(f"{self.kind} cannot be aimed at a route; these can: {', '.join(ROUTABLE)}")
        if self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; known: {', '.join(ROUTES)}")

    @property
    def key(self) -> str:
        return f"{self.kind.value}@{self.route}"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to break, and how often. The default plan breaks nothing."""

    latency_sec: float = 0.0
    rate_429: Trigger = NEVER
    error_5xx: Trigger = NEVER
    error_5xx_body: ErrorBody = ErrorBody.HTML
    create_timeout: Trigger = NEVER
    hang_sec: float = DEFAULT_HANG_SEC
    cancel_5xx_after_fill: Trigger = NEVER
    stall: Trigger = NEVER
    routed: tuple[RoutedFault, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latency_sec < 0 or self.hang_sec < 0:
            raise ValueError("latency and hang must be >= 0 seconds")

    def trigger(self, kind: FaultKind) -> Trigger:
        return {
            FaultKind.RATE_429: self.rate_429,
            FaultKind.ERROR_5XX: self.error_5xx,
            FaultKind.CREATE_TIMEOUT: self.create_timeout,
            FaultKind.CANCEL_5XX_AFTER_FILL: self.cancel_5xx_after_fill,
            FaultKind.STALL: self.stall,
        }[kind]

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Parse the ``--faults`` syntax; raises ``ValueError`` naming the bad entry."""
        latency, hang, seed, body = 0.0, DEFAULT_HANG_SEC, 0, ErrorBody.HTML
        triggers: dict[FaultKind, Trigger] = {}
        routed: dict[tuple[FaultKind, str], RoutedFault] = {}
        for entry in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = (piece.strip() for piece in entry.partition("="))
            try:
                if not sep:
                    raise ValueError("expected key=value")
                if key == "latency":
                    latency = float(value)
                elif key == "hang":
                    hang = float(value)
                elif key == "seed":
                    seed = int(value)
                elif key == "error5xx_body":
                    body = ErrorBody(value)
                elif key in set(FaultKind):
                    triggers[FaultKind(key)] = Trigger.parse(value)
                elif "@" in key:
                    kind, _, route = key.partition("@")
                    if kind not in set(FaultKind):
                        routable = ", ".join(ROUTABLE)
                        raise ValueError(f"unknown fault {kind!r}; these can take @ROUTE: {routable}")
                    aimed = RoutedFault(FaultKind(kind), route, Trigger.parse(value))
                    routed[aimed.kind, aimed.route] = aimed
                else:
                    raise ValueError(f"unknown fault; known: {', '.join(_KEYS)}")
            except ValueError as bad:
                raise ValueError(f"--faults entry {entry!r}: {bad}") from None
        return cls(
            latency_sec=latency,
            rate_429=triggers.get(FaultKind.RATE_429, NEVER),
            error_5xx=triggers.get(FaultKind.ERROR_5XX, NEVER),
            error_5xx_body=body,
            create_timeout=triggers.get(FaultKind.CREATE_TIMEOUT, NEVER),
            hang_sec=hang,
            cancel_5xx_after_fill=triggers.get(FaultKind.CANCEL_5XX_AFTER_FILL, NEVER),
            stall=triggers.get(FaultKind.STALL, NEVER),
            routed=tuple(routed.values()),
            seed=seed,
        )


_KEYS = ("latency", "hang", "seed", "error5xx_body", *(k.value for k in FaultKind), "KIND@ROUTE")


class FaultInjector:
    """The running state of a plan: counts left and one seeded generator per fault kind."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._left = {kind.value: plan.trigger(kind).count for kind in FaultKind}
        self._rngs = {kind.value: random.Random(f"{plan.seed}:{kind.value}") for kind in FaultKind}
        self._triggers = {kind.value: plan.trigger(kind) for kind in FaultKind}
        self._aimed: dict[tuple[FaultKind, str], str] = {}  # (kind, "METHOD path") → its key
        for aimed in plan.routed:
            self._aimed[aimed.kind, ROUTES[aimed.route]] = aimed.key
            self._left[aimed.key] = aimed.trigger.count
            self._rngs[aimed.key] = random.Random(f"{plan.seed}:{aimed.key}")
            self._triggers[aimed.key] = aimed.trigger

    def fires(self, kind: FaultKind, route: str | None = None) -> bool:
        """Decide for one eligible request whether ``kind`` hits it (consumes a count or a draw).

        ``route`` is the request's "METHOD path" as routed (path below the API prefix, with
        its ``{placeholders}``): a fault aimed at that route is tried first, then ``kind`` on
        every route.
        """
        aimed = self._aimed.get((kind, route)) if route is not None else None
        hit_route = aimed is not None and self._draw(aimed)
        hit_any = self._draw(kind.value)  # drawn either way: one fault's draws never shift another's
        return hit_route or hit_any

    def _draw(self, key: str) -> bool:
        if self._left[key] > 0:
            self._left[key] -= 1
            return True
        probability = self._triggers[key].probability
        return probability > 0 and self._rngs[key].random() < probability
