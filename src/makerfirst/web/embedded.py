"""``makerfirst run --web HOST:PORT``: the dashboard served beside the bot, in its event loop, with
the kill switch wired to the runner's ``halt`` (stop the loops, cancel and confirm our orders)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from makerfirst.observability.alerts import AlertDispatcher
from makerfirst.persistence.store import SqlStore
from makerfirst.web.app import create_app
from makerfirst.web.auth import load_token
from makerfirst.web.control import KillSwitch
from makerfirst.web.data import DashboardData
from makerfirst.web.server import check_free, parse_bind, server


@dataclass(frozen=True, slots=True)
class WebBinding:
    host: str
    port: int
    token: str = field(repr=False)

    @classmethod
    def parse(cls, bind: str) -> WebBinding:
        """``--web HOST:PORT``, checked before the bot starts: the address, the port, the token."""
        host, port = parse_bind(bind)
        token = load_token()
        check_free(host, port, "--web")
        return cls(host, port, token)


@contextlib.asynccontextmanager
async def dashboard_beside(
    *,
    store: SqlStore,
    engine: Engine,
    now: Callable[[], float],
    halt: Callable[[], Awaitable[int]],
    at: WebBinding,
    alerts: AlertDispatcher | None,
) -> AsyncIterator[None]:
    data = DashboardData(store, engine, now)
    app = create_app(data, at.token, KillSwitch(data, now, halt, alerts))
    web = server(app, at.host, at.port)
    task = asyncio.create_task(web.serve())
    try:
        yield
    finally:
        web.should_exit = True
        await task
