"""Logs a person can use: every line stamped in UTC (ISO 8601), text or JSON, to the terminal and
optionally to a rotating file; secrets redacted and venue HTML error pages summarised on the way out.

The text format keeps the design note's transcript lines word for word after the timestamp and the
level, so ``grep 'Taker fallback filled'`` works on a log file as it does on the terminal.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = ("text", "json")
ROOT_LOGGER = "makerfirst"
ROTATE_BYTES = 10 * 1024 * 1024  # a day of a busy bot is a few MB: ten files of 10 MB is weeks
ROTATE_KEEP = 10

# Environment variables whose values are secrets wherever they appear in a message.
SECRET_ENV = (
    "MAKERFIRST_WEB_TOKEN",
    "COINBASE_API_KEY_NAME",
    "COINBASE_API_PRIVATE_KEY",
    "MAKERFIRST_TELEGRAM_BOT_TOKEN",
)
REDACTED = "[redacted]"
_SECRET_PATTERNS = (  # (shape, replacement)
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
        REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[redacted]"),  # a JWT
    (re.compile(r"(/bot)\d{5,}:[A-Za-z0-9_-]{20,}"), r"\1[redacted]"),  # a Telegram bot token in a URL
    (re.compile(r"(?i)\b(token|api[_-]?key|secret|password)=[^&\s]+"), r"\1=[redacted]"),
)
_HTML_START = re.compile(r"<!DOCTYPE html|<html", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>([^<]*)", re.IGNORECASE)  # a truncated page may lack </title>
_HTML_H1 = re.compile(r"<h1[^>]*>([^<]*)", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")

# Fields copied from a record's ``extra`` into the JSON line when present.
STRUCTURED_FIELDS = (
    "event",
    "product_id",
    "client_order_id",
    "order_id",
    "outcome",
    "reason",
    "asset",
    "kind",
    "op",
    "attempt",
    "error",
    "utilization",
    "run_id",
)


def utc_iso(epoch_sec: float) -> str:
    """``2026-12-01T07:05:25.123Z``: ISO 8601, UTC, milliseconds."""
    stamp = datetime.fromtimestamp(epoch_sec, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def summarise_html(message: str) -> str:
    """A venue's HTML error page (a 429 or 502 from a proxy) becomes one line: its title or
    heading and its size, instead of kilobytes of markup."""
    start = _HTML_START.search(message)
    if start is None:
        return message
    page = message[start.start() :]
    found = _HTML_TITLE.search(page) or _HTML_H1.search(page)
    title = " ".join(_TAGS.sub(" ", found.group(1)).split()) if found else "untitled"
    return f"{message[: start.start()]}[HTML page: {title!r}, {len(page)} bytes]"


class Redactor:
    """Removes secrets from text: the values of known secret environment variables and anything
    shaped like a private key, a bearer token, a JWT or a ``token=`` parameter."""

    def __init__(self, secrets: Iterable[str] = (), env: dict[str, str] | None = None) -> None:
        source = os.environ if env is None else env
        values = [*secrets, *(source.get(name, "") for name in SECRET_ENV)]
        # Longest first, so a secret containing another is removed whole.
        self._values = sorted({v.strip() for v in values if len(v.strip()) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret.strip()) >= 6 and secret.strip() not in self._values:
            self._values = sorted([*self._values, secret.strip()], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def _clean_message(record: logging.LogRecord, redact: Redactor) -> str:
    return redact(summarise_html(record.getMessage()))


class CleanRecord(logging.Filter):
    """Runs before the handler formats: the message is rendered, summarised and redacted in place,
    so the handlers after it (file, alerts, metrics) see the clean text too."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean_message(record, self._redact)
        record.args = None
        return True


class TextFormatter(logging.Formatter):
    """``<UTC ISO time> <LEVEL> <inner line>``; ``inner`` renders the line itself (the transcript)."""

    def __init__(self, inner: logging.Formatter | None = None, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._inner = inner or logging.Formatter("%(message)s")
        self._now = now

    def format(self, record: logging.LogRecord) -> str:
        return f"{utc_iso(self._now())} {record.levelname:<7} {self._inner.format(record)}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message`` and the structured fields."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._now = now

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": utc_iso(self._now()),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in STRUCTURED_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(
    stream: TextIO,
    *,
    log_format: LogFormat = "text",
    log_file: Path | None = None,
    now: Callable[[], float] = time.time,
    inner: logging.Formatter | None = None,
    redactor: Redactor | None = None,
    level: int = logging.INFO,
    rotate_bytes: int = ROTATE_BYTES,
) -> list[logging.Handler]:
    """Route makerfirst's records to ``stream`` (and ``log_file``, rotated) in ``log_format``.

    ``now`` is the bot's clock: a paper run on a virtual clock stamps its lines in virtual time, as
    its database rows are. Handlers a previous call installed are replaced, not stacked.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"--log-format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    clean = CleanRecord(redactor or Redactor())

    def formatter() -> logging.Formatter:
        return JsonFormatter(now) if log_format == "json" else TextFormatter(inner, now)

    handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=rotate_bytes, backupCount=ROTATE_KEEP, encoding="utf-8"
            )
        )
    root = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in root.handlers if getattr(h, "_makerfirst_owned", False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.addFilter(clean)  # on the handler: a logger's own filter skips its children's records
        handler.setFormatter(formatter())
        handler.setLevel(level)
        handler._makerfirst_owned = True  # type: ignore[attr-defined]  # marks ours for replacement
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    return handlers
