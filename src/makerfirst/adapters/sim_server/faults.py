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
    hang=SECONDS             how long create_timeout holds the answer (default 15)
    cancel_5xx_after_fill=TRIGGER
                             a batch_cancel naming an order that has filled answers 503, cancels nothing
    fills_5xx=TRIGGER        GET /orders/historical/fills answers 503 (the fills of an order stay unread)
    seed=INT                 seed for the probabilities (default 0)

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
    FILLS_5XX = "fills_5xx"


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
class FaultPlan:
    """What to break, and how often. The default plan breaks nothing."""

    latency_sec: float = 0.0
    rate_429: Trigger = NEVER
    error_5xx: Trigger = NEVER
    error_5xx_body: ErrorBody = ErrorBody.HTML
    create_timeout: Trigger = NEVER
    hang_sec: float = DEFAULT_HANG_SEC
    cancel_5xx_after_fill: Trigger = NEVER
    fills_5xx: Trigger = NEVER
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
            FaultKind.FILLS_5XX: self.fills_5xx,
        }[kind]

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Parse the ``--faults`` syntax; raises ``ValueError`` naming the bad entry."""
        latency, hang, seed, body = 0.0, DEFAULT_HANG_SEC, 0, ErrorBody.HTML
        triggers: dict[FaultKind, Trigger] = {}
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
            fills_5xx=triggers.get(FaultKind.FILLS_5XX, NEVER),
            seed=seed,
        )


_KEYS = ("latency", "hang", "seed", "error5xx_body", *(k.value for k in FaultKind))


class FaultInjector:
    """The running state of a plan: counts left and one seeded generator per fault kind."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._left = {kind: plan.trigger(kind).count for kind in FaultKind}
        self._rngs = {kind: random.Random(f"{plan.seed}:{kind.value}") for kind in FaultKind}

    def fires(self, kind: FaultKind) -> bool:
        """Decide for one eligible request whether ``kind`` hits it (consumes a count or a draw)."""
        if self._left[kind] > 0:
            self._left[kind] -= 1
            return True
        probability = self.plan.trigger(kind).probability
        return probability > 0 and self._rngs[kind].random() < probability
