"""Alerts, received by a real HTTP server on 127.0.0.1: Telegram's and the generic JSON body,
retried with backoff, rate-limited, never blocking, never carrying a secret; raised from the bot's
own log records."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.observability.alerts import Alert, AlertDispatcher, AlertLogHandler, AlertSettings
from makerfirst.observability.logs import Redactor

BOT_TOKEN = "123456789:AAHk-secret-telegram-token-abcdefghij"  # noqa: S105  # a test token


@dataclass
class Inbox:
    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures_left: int = 0  # answer this many requests with a 503 first
    delay_sec: float = 0.0


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(box.delay_sec)
            if box.failures_left > 0:
                box.failures_left -= 1
                self.send_response(503)
                self.end_headers()
                return
            box.received.append((self.path, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def dispatcher(inbox: Inbox, clock: FakeTime, **overrides: Any) -> AlertDispatcher:
    fields: dict[str, Any] = {
        "webhook_url": f"{inbox.url}/hook",
        "telegram_token": BOT_TOKEN,
        "telegram_chat_id": "-1001",
        "telegram_api_url": inbox.url,
    }
    settings = AlertSettings(**{**fields, **overrides})
    return AlertDispatcher(settings, now=lambda: clock.now, sleep=clock.sleep, redactor=Redactor(env={}))


def test_an_alert_reaches_telegram_and_the_generic_webhook_in_their_formats(inbox: Inbox) -> None:
    clock = FakeTime()
    alerts = dispatcher(inbox, clock)
    assert alerts.send(Alert("purge_failed", "PENGU-USD: taker filled nothing", clock.now, "PENGU-USD"))
    alerts.flush()
    by_path = dict(inbox.received)
    telegram = by_path[f"/bot{BOT_TOKEN}/sendMessage"]
    assert telegram == {
        "chat_id": "-1001",
        "text": "makerfirst purge_failed: PENGU-USD: taker filled nothing",
        "disable_web_page_preview": True,
    }
    generic = by_path["/hook"]
    assert generic["text"] == generic["content"] == telegram["text"]  # Slack reads text, Discord content
    assert (generic["event"], generic["product_id"], generic["at"]) == (
        "purge_failed",
        "PENGU-USD",
        "1970-01-01T00:16:40.000Z",
    )
    alerts.close()


def test_no_secret_reaches_a_body(inbox: Inbox) -> None:
    clock = FakeTime()
    alerts = dispatcher(inbox, clock)
    alerts.send(
        Alert("auth_failed", f"401 with bot {BOT_TOKEN} and Bearer eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl", 1.0)
    )
    alerts.flush()
    bodies = json.dumps([body for _, body in inbox.received])
    assert (
        inbox.received and BOT_TOKEN not in bodies and "eyJhbGciOi" not in bodies and "[redacted]" in bodies
    )
    alerts.close()


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(inbox: Inbox) -> None:
    clock = FakeTime()
    alerts = dispatcher(inbox, clock, telegram_token=None)
    inbox.failures_left = 2
    alerts.send(Alert("bot_stopped", "finished 20 cycles", clock.now))
    alerts.flush()
    assert [path for path, _ in inbox.received] == ["/hook"]
    assert clock.sleeps == [1.0, 2.0]  # exponential, from the injected sleep: no wall time spent
    alerts.close()


def test_alerts_of_one_kind_are_rate_limited(inbox: Inbox) -> None:
    clock = FakeTime()
    alerts = dispatcher(inbox, clock, telegram_token=None, min_interval_sec=300)
    assert alerts.send(Alert("repeated_429", "first", clock.now))
    assert not alerts.send(Alert("repeated_429", "again a minute later", clock.now + 60))
    assert alerts.send(Alert("dust_created", "another kind", clock.now))
    clock.now += 301
    assert alerts.send(Alert("repeated_429", "after the interval", clock.now))
    alerts.flush()
    assert [body["text"] for _, body in inbox.received] == [
        "makerfirst repeated_429: first",
        "makerfirst dust_created: another kind",
        "makerfirst repeated_429: after the interval",
    ]
    alerts.close()


def test_sending_never_blocks_the_caller_even_when_the_webhook_is_slow(inbox: Inbox) -> None:
    clock = FakeTime()
    alerts = dispatcher(inbox, clock, telegram_token=None)
    inbox.delay_sec = 0.5
    started = time.monotonic()
    alerts.send(Alert("kill_switch", "paused", clock.now))
    assert time.monotonic() - started < 0.1
    alerts.flush()
    assert len(inbox.received) == 1
    alerts.close()


def log_record(event: str, **fields: Any) -> logging.LogRecord:
    record = logging.LogRecord(
        "makerfirst.test", logging.WARNING, __file__, 1, f"{event} happened", None, None
    )
    record.event = event
    for key, value in fields.items():
        setattr(record, key, value)
    return record


def test_the_bots_log_records_raise_the_alerts_they_stand_for(inbox: Inbox) -> None:
    clock = FakeTime()
    settings = AlertSettings(webhook_url=f"{inbox.url}/hook", repeat_threshold=3, min_interval_sec=0)
    alerts = AlertDispatcher(settings, now=lambda: clock.now, sleep=clock.sleep)
    handler = AlertLogHandler(alerts, settings, lambda: clock.now)
    for record in (
        log_record("taker_failed", product_id="PENGU-USD", outcome="no_fill"),
        log_record("twap_finish", product_id="ZK-USD", outcome="residual_exceeds_threshold"),
        log_record("twap_finish", product_id="BTC-USD", outcome="complete"),  # not an alert
        log_record("dust", asset="SHIB"),
        log_record("order_adopted", client_order_id="purge_x"),
        log_record("cycle_skipped", error="AuthenticationError"),
        *(log_record("request_retry", kind="rate_limited") for _ in range(3)),
        *(log_record("request_retry", kind="transient") for _ in range(2)),  # below the threshold
    ):
        handler.emit(record)
    alerts.flush()
    kinds = [body["event"] for _, body in inbox.received]
    assert sorted(kinds) == sorted(
        [
            "purge_failed",
            "purge_failed",
            "dust_created",
            "reconciliation_orphan",
            "auth_failed",
            "repeated_429",
        ]
    )
    alerts.close()


def test_without_a_configured_webhook_nothing_is_sent() -> None:
    settings = AlertSettings.from_env({})
    assert not settings.enabled
    alerts = AlertDispatcher(settings)
    assert not alerts.send(Alert("bot_stopped", "done", 0.0))
    alerts.close()


def test_a_paper_run_sends_its_dust_and_stopped_alerts_to_the_configured_webhook(
    inbox: Inbox, tmp_path: Path
) -> None:
    args = [
        "run",
        "--paper",
        "--fast",
        "--cycles",
        "2",
        "--seed",
        "1",
        "--db",
        f"sqlite:///{tmp_path / 'a.db'}",
    ]
    result = CliRunner().invoke(app, args, env={"MAKERFIRST_ALERT_WEBHOOK_URL": f"{inbox.url}/hook"})
    assert result.exit_code == 0, result.output
    events = {body["event"]: body for _, body in inbox.received}
    assert "SHIB" in events["dust_created"]["text"]
    assert events["bot_stopped"]["text"] == "makerfirst bot_stopped: finished 2 cycles"
    assert "purge_failed" not in events  # every purge of the demo completes
