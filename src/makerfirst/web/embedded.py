"""``makerfirst run --web HOST:PORT``: the dashboard served beside the bot, in its event loop, with
the kill switch wired to the runner's ``halt`` (stop the loops, cancel and confirm our orders)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy.engine import Engine

from makerfirst.observability.alerts import AlertDispatcher
from makerfirst.persistence.store import SqlStore
from makerfirst.web.app import create_app
from makerfirst.web.control import KillSwitch
from makerfirst.web.data import DashboardData
from makerfirst.web.server import server


@contextlib.asynccontextmanager
async def dashboard_beside(
    *,
    store: SqlStore,
    engine: Engine,
    now: Callable[[], float],
    halt: Callable[[], Awaitable[int]],
    host: str,
    port: int,
    token: str,
    alerts: AlertDispatcher | None,
) -> AsyncIterator[None]:
    data = DashboardData(store, engine, now)
    app = create_app(data, token, KillSwitch(data, now, halt, alerts))
    web = server(app, host, port)
    task = asyncio.create_task(web.serve())
    try:
        yield
    finally:
        web.should_exit = True
        await task
