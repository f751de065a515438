"""``makerfirst run --web HOST:PORT``: the dashboard served beside the bot, in its event loop. The
app itself (its kill switch wired to the runner's ``halt``) is built by ``bootstrap``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI

from makerfirst.web.auth import load_token
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
async def served_beside(app: FastAPI, at: WebBinding) -> AsyncIterator[None]:
    """Serve ``app`` at ``at`` while the body runs; stop it (gracefully) when the body ends."""
    web = server(app, at.host, at.port)
    task = asyncio.create_task(web.serve())
    try:
        yield
    finally:
        web.should_exit = True
        await task
