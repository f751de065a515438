"""What ``makerfirst run`` installs around the bot: the logs (terminal and file, text or JSON), the
database's error log for the dashboard, and the webhook alerts. One call, one ``close()``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from makerfirst.observability import operator_log
from makerfirst.observability.alerts import Alert, AlertDispatcher, AlertLogHandler, AlertSettings
from makerfirst.observability.logs import ROOT_LOGGER, CleanRecord, LogFormat, Redactor, configure_logging


@dataclass
class Observability:
    engine: Engine
    alerts: AlertDispatcher | None
    handlers: list[logging.Handler]
    now: Callable[[], float]

    def bot_stopped(self, why: str) -> None:
        if self.alerts is not None:
            self.alerts.send(Alert("bot_stopped", why, self.now()))

    def close(self) -> None:
        root = logging.getLogger(ROOT_LOGGER)
        for handler in self.handlers:
            root.removeHandler(handler)
        if self.alerts is not None:
            self.alerts.close()  # sends what is queued, within its timeout
        self.engine.dispose()


def install(
    db_url: str,
    *,
    stream: TextIO,
    log_format: LogFormat,
    log_file: Path | None,
    now: Callable[[], float],
    inner: logging.Formatter | None = None,
    alert_settings: AlertSettings | None = None,
) -> Observability:
    redactor = Redactor()
    configure_logging(
        stream, log_format=log_format, log_file=log_file, now=now, inner=inner, redactor=redactor
    )
    engine = create_engine(db_url, future=True)
    operator_log.ensure_tables(engine)
    extra: list[logging.Handler] = [operator_log.ErrorLogHandler(engine, now)]
    settings = alert_settings or AlertSettings.from_env()
    alerts = AlertDispatcher(settings, now=now, redactor=redactor) if settings.enabled else None
    if alerts is not None:
        extra.append(AlertLogHandler(alerts, settings, now))
    root = logging.getLogger(ROOT_LOGGER)
    for handler in extra:
        handler.addFilter(CleanRecord(redactor))
        root.addHandler(handler)
    return Observability(engine, alerts, extra, now)
