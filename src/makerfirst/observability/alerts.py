"""Alerts by webhook: a Telegram bot (Bot API ``sendMessage``) and/or a generic JSON webhook whose
body Slack (``text``) and Discord (``content``) both accept.

Alerts come from the log records the bot already emits (``AlertLogHandler``) and from the few
explicit moments (kill switch, bot stopped). Sending happens on a worker thread: a slow or dead
webhook never blocks a cycle. Each alert is retried with exponential backoff, alerts of one kind are
rate-limited, and every body passes the log redactor, so no secret leaves in one. Time is injected.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from makerfirst.observability.logs import Redactor, utc_iso

log = logging.getLogger("makerfirst.alerts")

TELEGRAM_API = "https://api.telegram.org"
FAILED_OUTCOMES = frozenset(
    {"residual_exceeds_threshold", "taker_fallback_disabled", "taker_failed", "max_attempts", "order_failed"}
)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where alerts go. From the environment: ``MAKERFIRST_ALERT_WEBHOOK_URL`` (generic JSON),
    ``MAKERFIRST_TELEGRAM_BOT_TOKEN`` with ``MAKERFIRST_TELEGRAM_CHAT_ID`` (and
    ``MAKERFIRST_TELEGRAM_API_URL`` to point at another Bot API server)."""

    webhook_url: str | None = None
    telegram_token: str | None = field(default=None, repr=False)
    telegram_chat_id: str | None = None
    telegram_api_url: str = TELEGRAM_API
    min_interval_sec: float = 300.0  # one alert per kind and product per five minutes
    burst_per_hour: int = 30  # and never more than this many in any hour, whatever the kinds
    max_attempts: int = 4
    backoff_sec: float = 1.0
    timeout_sec: float = 5.0
    repeat_threshold: int = 5  # this many 429s (or 5xx) ...
    repeat_window_sec: float = 60.0  # ... within this window is "repeated"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        source = os.environ if env is None else env
        return cls(
            webhook_url=source.get("MAKERFIRST_ALERT_WEBHOOK_URL") or None,
            telegram_token=source.get("MAKERFIRST_TELEGRAM_BOT_TOKEN") or None,
            telegram_chat_id=source.get("MAKERFIRST_TELEGRAM_CHAT_ID") or None,
            telegram_api_url=source.get("MAKERFIRST_TELEGRAM_API_URL") or TELEGRAM_API,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or (self.telegram_token and self.telegram_chat_id))


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # purge_failed, dust_created, kill_switch, reconciliation, repeated_429, ...
    text: str
    at: float
    product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    body: dict[str, object]


class AlertDispatcher:
    """Queues alerts and sends them from one worker thread."""

    def __init__(
        self,
        settings: AlertSettings,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        redactor: Redactor | None = None,
    ) -> None:
        self._settings = settings
        self._now = now
        self._sleep = sleep
        self._redact = redactor or Redactor([settings.telegram_token or ""])
        if settings.telegram_token:
            self._redact.add(settings.telegram_token)
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._last_sent: dict[tuple[str, str | None], float] = {}
        self._recent: deque[float] = deque()
        self.delivered = 0
        self.dropped = 0
        self._worker = threading.Thread(target=self._work, name="makerfirst-alerts", daemon=True)
        self._worker.start()

    def send(self, alert: Alert) -> bool:
        """Queue ``alert`` unless the rate limit holds it back; never blocks, never raises."""
        if not self._settings.enabled or not self._admit(alert):
            self.dropped += 1
            return False
        self._queue.put(alert)
        return True

    def flush(self) -> None:
        """Wait until every queued alert was sent or given up on (tests, and at shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=self._settings.timeout_sec * 2)

    def deliveries(self, alert: Alert) -> list[Delivery]:
        text = self._redact(f"makerfirst {alert.kind}: {alert.text}")
        out: list[Delivery] = []
        s = self._settings
        if s.telegram_token and s.telegram_chat_id:
            out.append(
                Delivery(
                    f"{s.telegram_api_url.rstrip('/')}/bot{s.telegram_token}/sendMessage",
                    {"chat_id": s.telegram_chat_id, "text": text, "disable_web_page_preview": True},
                )
            )
        if s.webhook_url:
            out.append(
                Delivery(
                    s.webhook_url,
                    {
                        "text": text,  # Slack
                        "content": text,  # Discord
                        "event": alert.kind,
                        "product_id": alert.product_id,
                        "at": utc_iso(alert.at),
                    },
                )
            )
        return out

    def _admit(self, alert: Alert) -> bool:
        now = self._now()
        key = (alert.kind, alert.product_id)
        last = self._last_sent.get(key)
        if last is not None and now - last < self._settings.min_interval_sec:
            return False
        while self._recent and now - self._recent[0] >= 3600:
            self._recent.popleft()
        if len(self._recent) >= self._settings.burst_per_hour:
            return False
        self._last_sent[key] = now
        self._recent.append(now)
        return True

    def _work(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                if alert is None:
                    return
                for delivery in self.deliveries(alert):
                    self._deliver(delivery)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        data = json.dumps(delivery.body).encode()
        for attempt in range(1, self._settings.max_attempts + 1):
            request = urllib.request.Request(  # noqa: S310  # the operator's configured webhook URL
                delivery.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self._settings.timeout_sec):  # noqa: S310
                    self.delivered += 1
                    return
            except urllib.error.HTTPError as refused:
                if 400 <= refused.code < 500 and refused.code != 429:
                    break  # a bad request stays bad: retrying it only adds noise
            except (urllib.error.URLError, OSError):
                pass
            if attempt < self._settings.max_attempts:
                self._sleep(self._settings.backoff_sec * 2 ** (attempt - 1))
        self.dropped += 1
        # Not through the makerfirst logger: an alert about failing alerts would loop.
        logging.getLogger("makerfirst_alerts_delivery").warning(
            "alert not delivered: %s", delivery.body.get("event")
        )


class AlertLogHandler(logging.Handler):
    """Turns the bot's log records into alerts: purge failed, dust, reconciliation found an orphan or
    a lost fill, repeated 429s or 5xx, authentication failed."""

    def __init__(
        self, dispatcher: AlertDispatcher, settings: AlertSettings, now: Callable[[], float]
    ) -> None:
        super().__init__(logging.INFO)
        self._dispatcher = dispatcher
        self._settings = settings
        self._now = now
        self._failures: dict[str, deque[float]] = {"rate_limited": deque(), "transient": deque()}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = self.classify(record)
            if kind is not None:
                self._dispatcher.send(
                    Alert(kind, record.getMessage(), self._now(), getattr(record, "product_id", None))
                )
        except Exception:  # an alert must never become the bot's error
            self.handleError(record)

    def classify(self, record: logging.LogRecord) -> str | None:
        event = getattr(record, "event", None)
        failure = str(getattr(record, "kind", "") or getattr(record, "error", "") or "")
        if failure in ("authentication", "AuthenticationError"):
            return "auth_failed"
        if event == "taker_failed" or (
            event == "twap_finish" and getattr(record, "outcome", None) in FAILED_OUTCOMES
        ):
            return "purge_failed"
        if event in ("dust", "twap_complete_with_dust"):
            return "dust_created"
        if event == "order_adopted":
            return "reconciliation_orphan"
        if event == "reconciled":
            return "reconciliation"
        if event == "request_retry" and failure in self._failures:
            return self._repeated(failure)
        return None

    def _repeated(self, failure: str) -> str | None:
        now, seen = self._now(), self._failures[failure]
        seen.append(now)
        while seen and now - seen[0] > self._settings.repeat_window_sec:
            seen.popleft()
        if len(seen) >= self._settings.repeat_threshold:
            seen.clear()
            return "repeated_429" if failure == "rate_limited" else "repeated_5xx"
        return None
