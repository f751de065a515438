"""What the sell loop reports as it runs, and how those events read: the design note's words.

``TwapLoop`` emits these events to a sink and knows nothing of their wording; :func:`log_event`
(the default sink) renders each as one structured log record (``extra["event"]``, the same names
tests and the CLI's transcript read), worded exactly as the design note's transcript.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.algorithms import twap
from makerfirst.domain.intents import Purpose
from makerfirst.domain.money import ZERO, plain, usd
from makerfirst.domain.orders import Side
from makerfirst.execution.engine import AttemptOutcome, AttemptReport

log = logging.getLogger("makerfirst.twap")


@dataclass(frozen=True, slots=True)
class LoopStarted:
    product_id: str
    purpose: Purpose
    side: Side
    size: Decimal
    base: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class LoopResumed:
    product_id: str
    run_id: int
    size: Decimal
    base: str


@dataclass(frozen=True, slots=True)
class SizeClamped:
    product_id: str
    side: Side
    wanted: Decimal
    held: Decimal
    base: str


@dataclass(frozen=True, slots=True)
class MakerSliceEnded:
    """A maker order is terminal. ``number`` counts the loop's orders (1 = the first);
    ``cushion_after`` differs from ``cushion_before`` when a post-only reject widened it."""

    product_id: str
    number: int
    attempt: AttemptReport
    base: str
    cushion_before: int
    cushion_after: int
    replaced: bool = False  # it left before its TTL, no longer top of book: a new order follows


@dataclass(frozen=True, slots=True)
class ModelQuoted:
    """A model-priced policy (GLFT) chose its next step; ``cushion_ticks`` is None for a taker."""

    product_id: str
    reason: twap.QuoteReason
    base: str
    cushion_ticks: int | None


@dataclass(frozen=True, slots=True)
class AggressivePurge:
    """The design note's fallback is about to send its one taker order."""

    product_id: str
    remaining_value: Decimal
    threshold: Decimal


@dataclass(frozen=True, slots=True)
class TakerForced:
    product_id: str
    value: Decimal
    max_slippage_bps: int


@dataclass(frozen=True, slots=True)
class TakerEnded:
    product_id: str
    attempt: AttemptReport
    base: str


@dataclass(frozen=True, slots=True)
class LoopFinished:
    product_id: str
    outcome: twap.Outcome
    purpose: Purpose
    side: Side
    remaining: Decimal
    remaining_value: Decimal
    base: str
    taker_threshold: Decimal
    max_no_fill: int


@dataclass(frozen=True, slots=True)
class OrderStateUnknown:
    product_id: str
    error: str


LoopEvent = (
    LoopStarted
    | LoopResumed
    | SizeClamped
    | MakerSliceEnded
    | ModelQuoted
    | AggressivePurge
    | TakerForced
    | TakerEnded
    | LoopFinished
    | OrderStateUnknown
)


def log_event(event: LoopEvent) -> None:
    """Render ``event`` as the design note's log line(s)."""
    if isinstance(event, LoopStarted):
        verb = "purge" if event.purpose is Purpose.PURGE else event.side.value.lower()
        log.info(
            "TWAP %s start: %s %s (~%s)",
            verb,
            plain(event.size),
            event.base,
            usd(event.value),
            extra={"event": "twap_start", "product_id": event.product_id, "size": str(event.size)},
        )
    elif isinstance(event, LoopResumed):
        log.info(
            "Resuming purge run %d for %s: %s %s left",
            event.run_id,
            event.product_id,
            plain(event.size),
            event.base,
            extra={"event": "twap_resume", "product_id": event.product_id, "run_id": event.run_id},
        )
    elif isinstance(event, SizeClamped):
        log.warning(
            "Asked to %s %s %s but only %s is affordable or held; trading that",
            event.side.value.lower(),
            plain(event.wanted),
            event.base,
            plain(event.held),
            extra={"event": "size_clamped", "product_id": event.product_id},
        )
    elif isinstance(event, MakerSliceEnded):
        _log_maker(event)
    elif isinstance(event, ModelQuoted):
        _log_quote(event)
    elif isinstance(event, AggressivePurge):
        remaining, threshold = usd(event.remaining_value), usd(event.threshold)
        log.warning(
            "TWAP: activating aggressive purge mode for %s (remaining=%s %s %s threshold)",
            event.product_id,
            remaining,
            "<" if remaining != threshold else "≤",
            threshold,
            extra={"event": "aggressive_purge", "product_id": event.product_id},
        )
    elif isinstance(event, TakerForced):
        log.info(
            "Forcing taker sell ~%s (max_slippage=%s%%)",
            usd(event.value),
            f"{Decimal(event.max_slippage_bps) / 100:.1f}",
            extra={"event": "taker_forced", "product_id": event.product_id},
        )
    elif isinstance(event, TakerEnded):
        _log_taker(event)
    elif isinstance(event, LoopFinished):
        _log_finish(event)
    else:
        log.error(
            "%s: %s; stopping until reconciled",
            event.product_id,
            event.error,
            extra={"event": "order_state_unknown", "product_id": event.product_id},
        )


def _log_maker(event: MakerSliceEnded) -> None:
    attempt = event.attempt
    price = f"${plain(attempt.price)}" if attempt.price is not None else "-"
    head = f"Slice {event.number}: post-only @ {price}"
    extra = {
        "event": "maker_slice",
        "outcome": attempt.outcome.value,
        "ttl_sec": attempt.ttl_sec,
        "product_id": event.product_id,
    }
    if attempt.outcome is AttemptOutcome.REJECTED_POST_ONLY:
        log.info(
            "%s → rejected (post-only would cross) → cushion %d→%d ticks",
            head,
            event.cushion_before,
            event.cushion_after,
            extra=extra,
        )
    elif attempt.outcome is AttemptOutcome.BLOCKED:
        reason = attempt.guard.reason if attempt.guard else "blocked"
        log.info("Slice %d: blocked by guard (%s)", event.number, reason, extra=extra)
    elif attempt.outcome in (AttemptOutcome.REJECTED, AttemptOutcome.FAILED):
        log.info("%s → %s (%s)", head, attempt.outcome.value, attempt.reject_reason, extra=extra)
    else:
        end = {
            AttemptOutcome.FILLED: f"filled {plain(attempt.filled_size)} {event.base}",
            AttemptOutcome.PARTIAL: f"partial {plain(attempt.filled_size)} {event.base} → canceled",
            AttemptOutcome.EXPIRED: "no fill → expired",
            AttemptOutcome.NO_FILL: "no fill → canceled",
        }[attempt.outcome]
        if event.replaced:
            end = end.replace("no fill → canceled", "no longer top of book → canceled, re-placed")
        log.info("%s, TTL=%ss → %s", head, attempt.ttl_sec, end, extra=extra)


def _log_quote(event: ModelQuoted) -> None:
    r = event.reason
    action = "taker" if event.cushion_ticks is None else f"post-only at bid + {event.cushion_ticks} ticks"
    log.info(
        "%s quote: %+.2f spreads (%+.1f ticks) from the mid for %d lot%s (%s %s), %.0f s left,"
        " give-up cost %.2f spreads → %s",
        r.model.upper(),
        r.distance_spreads,
        r.distance_ticks,
        r.lots_left,
        "" if r.lots_left == 1 else "s",
        plain(r.remaining),
        event.base,
        r.time_left_sec,
        r.give_up_spreads,
        action,
        extra={
            "event": "model_quote",
            "product_id": event.product_id,
            "distance_spreads": r.distance_spreads,
            "time_left_sec": r.time_left_sec,
        },
    )


def _log_taker(event: TakerEnded) -> None:
    attempt = event.attempt
    extra = {"outcome": attempt.outcome.value, "product_id": event.product_id}
    if attempt.filled_size > ZERO:
        log.info(
            "Taker fallback filled %s (%s %s)",
            usd(attempt.filled_value),
            plain(attempt.filled_size),
            event.base,
            extra={"event": "taker_filled", **extra},
        )
    else:
        log.error(
            "Taker fallback filled nothing (%s): purge failed, no further attempts",
            attempt.outcome.value,
            extra={"event": "taker_failed", **extra},
        )


def _log_finish(event: LoopFinished) -> None:
    outcome, value = event.outcome, usd(event.remaining_value)
    extra = {"event": "twap_finish", "outcome": outcome.value, "product_id": event.product_id}
    noun = "Purge" if event.purpose is Purpose.PURGE else event.side.value.capitalize()
    if outcome is twap.Outcome.COMPLETE:
        log.info("%s complete", noun, extra=extra)
    elif outcome is twap.Outcome.DUST:
        log.warning(
            "Remainder %s %s (~%s) is dust: below the product minimum; not retried",
            plain(event.remaining),
            event.base,
            value,
            extra=extra,
        )
        log.info("%s complete", noun, extra={**extra, "event": "twap_complete_with_dust"})
    elif outcome is twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD:
        log.error(
            "TWAP: residual ~%s exceeds threshold (%s); %s sell failed",
            value,
            usd(event.taker_threshold),
            noun.lower(),
            extra=extra,
        )
    elif outcome is twap.Outcome.TAKER_FALLBACK_DISABLED:
        log.error(
            "TWAP: taker fallback disabled (allow_taker_fallback: false);"
            " residual ~%s left; purge sell failed",
            value,
            extra=extra,
        )
    elif outcome is twap.Outcome.MAX_ATTEMPTS:
        log.error(
            "TWAP: no fill after %d maker attempts in a row; residual ~%s left",
            event.max_no_fill,
            value,
            extra=extra,
        )
    elif outcome is twap.Outcome.NOTHING_TO_SELL:
        log.warning("Nothing to sell", extra=extra)
    else:
        log.error("%s ended: %s (residual ~%s)", noun, outcome.value, value, extra=extra)
