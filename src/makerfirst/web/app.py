"""The FastAPI app: pages, ``/api/v1/...`` JSON, ``/metrics``, ``/events`` (server-sent events) and
the kill switch. Every route but ``/login`` and the static assets needs the token."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import plotly  # type: ignore[import-untyped]  # plotly ships no type hints
from fastapi import Body, FastAPI, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel

from makerfirst.clock import Clock
from makerfirst.observability.metrics import metrics_registry, render_metrics
from makerfirst.web import pages
from makerfirst.web.auth import COOKIE, TokenCheck
from makerfirst.web.control import ConfirmationError, KillSwitch
from makerfirst.web.data import DashboardData, Json

log = logging.getLogger("makerfirst.web")

OPEN_PATHS = ("/login", "/static/")
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
EVENTS_POLL_SEC = 1.0
EVENTS_MAX_SEC = 300.0  # a stream ends after five minutes; the browser reconnects by itself


class ControlRequest(BaseModel):
    confirm: str
    reason: str = ""


def create_app(data: DashboardData, token: str, kill_switch: KillSwitch, *, clock: Clock) -> FastAPI:
    check = TokenCheck(token)
    registry = metrics_registry(data.collector())
    app = FastAPI(
        title="makerfirst",
        description="The bot's state, from its database; the kill switch.",
        docs_url=None,  # the Swagger page pulls its script from a CDN; the schema is below
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )

    @app.middleware("http")
    async def require_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path.startswith(OPEN_PATHS) or check.request_ok(
            request.headers.get("authorization"), request.cookies.get(COOKIE)
        ):
            return await call_next(request)
        log.warning(
            "dashboard: refused %s %s without a valid token from %s",
            request.method,
            path,
            request.client.host if request.client else "?",
            extra={"event": "web_unauthorized"},
        )
        if path.startswith(("/api/", "/metrics", "/events")):
            return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
        return HTMLResponse(pages.login_page("Sign in with the dashboard token."), status_code=401)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form() -> str:
        return pages.login_page("")

    @app.post("/login", include_in_schema=False)
    def login(token: Annotated[str, Form()]) -> Response:
        if not check.token_ok(token):
            return HTMLResponse(pages.login_page("That token is not the dashboard's."), status_code=401)
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(COOKIE, check.session, httponly=True, samesite="strict")
        return answer

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return FileResponse(PLOTLY_JS, media_type="text/javascript")
        if name not in STATIC:
            return Response(status_code=404)
        text = resources.files("makerfirst.web").joinpath("static", name).read_text(encoding="utf-8")
        return Response(text, media_type=STATIC[name])

    # -- pages -----------------------------------------------------------------------------------
    def paused() -> bool:
        return data.pause().paused

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview() -> str:
        return pages.overview_page(data.overview())

    @app.get("/holdings", response_class=HTMLResponse, include_in_schema=False)
    def holdings_html() -> str:
        return pages.holdings_page(data.holdings(), paused())

    @app.get("/orders", response_class=HTMLResponse, include_in_schema=False)
    def orders_html() -> str:
        return pages.orders_page(data.open_orders(), paused())

    @app.get("/purges", response_class=HTMLResponse, include_in_schema=False)
    def purges_html() -> str:
        return pages.purges_page(data.purges(), paused())

    @app.get("/fills", response_class=HTMLResponse, include_in_schema=False)
    def fills_html() -> str:
        return pages.fills_page(data.fills(), paused())

    @app.get("/dust", response_class=HTMLResponse, include_in_schema=False)
    def dust_html() -> str:
        return pages.dust_page(data.dust(), paused())

    @app.get("/errors", response_class=HTMLResponse, include_in_schema=False)
    def errors_html() -> str:
        return pages.errors_page(data.errors(), paused())

    @app.get("/control", response_class=HTMLResponse, include_in_schema=False)
    def control_html() -> str:
        return pages.control_page(data.control())

    @app.post("/control/{action}", include_in_schema=False)
    async def control_form(
        action: str,
        request: Request,
        confirm: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        try:
            await _act(kill_switch, action, confirm, reason, _actor(request))
        except ConfirmationError as wrong:
            return HTMLResponse(pages.control_page(data.control(), str(wrong)), status_code=400)
        return RedirectResponse("/control", status_code=303)

    # -- REST ------------------------------------------------------------------------------------
    @app.get("/api/v1/overview", tags=["state"])
    def api_overview() -> Json:
        return data.overview()

    @app.get("/api/v1/holdings", tags=["state"])
    def api_holdings() -> list[Json]:
        return data.holdings()

    @app.get(
        "/api/v1/orders", tags=["state"], summary="Open orders with age, TTL left and distance to the mid"
    )
    def api_orders() -> list[Json]:
        return data.open_orders()

    @app.get("/api/v1/purges", tags=["state"], summary="Every sell loop with its attempts")
    def api_purges() -> list[Json]:
        return data.purges()

    @app.get("/api/v1/fills", tags=["state"])
    def api_fills() -> list[Json]:
        return data.fills()

    @app.get("/api/v1/dust", tags=["state"])
    def api_dust() -> list[Json]:
        return data.dust()

    @app.get("/api/v1/errors", tags=["state"])
    def api_errors() -> list[Json]:
        return data.errors()

    @app.get("/api/v1/control", tags=["control"], summary="The kill switch's state and the audit log")
    def api_control() -> Json:
        return data.control()

    @app.post(
        "/api/v1/control/{action}", tags=["control"], summary="kill (confirm=KILL) or resume (confirm=RESUME)"
    )
    async def api_act(action: str, request: Request, body: Annotated[ControlRequest, Body()]) -> Response:
        try:
            result = await _act(kill_switch, action, body.confirm, body.reason, _actor(request))
        except ConfirmationError as wrong:
            return JSONResponse({"detail": str(wrong)}, status_code=400)
        return JSONResponse(result)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(render_metrics(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/events", include_in_schema=False)
    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(_changes(request, data, clock), media_type="text/event-stream")

    return app


async def _act(kill_switch: KillSwitch, action: str, confirm: str, reason: str, actor: str) -> Json:
    if action == "kill":
        return await kill_switch.kill(confirm, actor, reason)
    if action == "resume":
        return await kill_switch.resume(confirm, actor, reason)
    raise ConfirmationError(f"unknown action {action!r}: kill or resume")


def _actor(request: Request) -> str:
    return f"web:{request.client.host if request.client else '?'}"


async def _changes(request: Request, data: DashboardData, clock: Clock) -> AsyncIterator[str]:
    """One event per second on ``clock`` (the page's pacing: the system clock, even beside a bot on
    a virtual one) carrying what the pages depend on; the browser refreshes on a change."""
    give_up = clock.now() + EVENTS_MAX_SEC
    while clock.now() < give_up and not await request.is_disconnected():
        version = await asyncio.to_thread(_version, data)
        yield f"data: {json.dumps(version)}\n\n"
        await clock.sleep_until(clock.now() + EVENTS_POLL_SEC)


def _version(data: DashboardData) -> dict[str, Any]:
    cycles = data.store.cycles()
    return {
        "cycles": len(cycles),
        "paused": data.pause().paused,
        "open_orders": len(data.store.open_orders()),
        "runs": len(data.store.runs()),
    }
