"""The kill switch: pause (cancel and confirm every open order of ours, start nothing new) and
resume. The paused state is persisted, so it holds across restarts; every action is audited.

Beside a running bot (``makerfirst run --web``) ``halt`` is the runner's own: it stops the sell
loops and cancels their orders at once. Over a database alone (``makerfirst web``) the switch is
persisted and the bot writing that database honours it at the start of its next cycle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from makerfirst.domain.errors import ConfirmationError as ConfirmationError  # noqa: PLC0414  # re-exported
from makerfirst.observability import operator_log
from makerfirst.observability.alerts import Alert, AlertDispatcher
from makerfirst.observability.kill_switch import PauseState, write_pause
from makerfirst.web.data import DashboardData, Json

log = logging.getLogger("makerfirst.control")

KILL_CONFIRMATION = "KILL"
RESUME_CONFIRMATION = "RESUME"

Halt = Callable[[], Awaitable[int]]  # cancels our open orders; returns how many it cancelled


@dataclass
class KillSwitch:
    data: DashboardData
    now: Callable[[], float]
    halt: Halt | None = None
    alerts: AlertDispatcher | None = None

    async def kill(self, confirm: str, actor: str, reason: str) -> Json:
        if confirm != KILL_CONFIRMATION:
            raise ConfirmationError(f"type {KILL_CONFIRMATION} in the confirm field to pause the bot")
        at = self.now()
        write_pause(self.data.store, PauseState(True, at, actor, reason))
        cancelled: int | None = None
        if self.halt is not None:
            cancelled = await self.halt()
        detail = {
            "reason": reason,
            "cancelled": cancelled,
            "open_orders_left": len(self.data.store.open_orders()),
        }
        operator_log.record_audit(self.data.engine, at, actor, "kill_switch", json.dumps(detail))
        effect = (
            "the bot writing this database cancels its orders at its next cycle"
            if cancelled is None
            else f"{cancelled} orders cancelled, {detail['open_orders_left']} left open"
        )
        log.warning(
            "Kill switch: paused by %s (%s); %s",
            actor,
            reason or "no reason given",
            effect,
            extra={"event": "kill_switch"},
        )
        if self.alerts is not None:
            self.alerts.send(Alert("kill_switch", f"paused by {actor}: {reason or 'no reason given'}", at))
        return {"paused": True, **detail}

    async def resume(self, confirm: str, actor: str, reason: str) -> Json:
        if confirm != RESUME_CONFIRMATION:
            raise ConfirmationError(f"type {RESUME_CONFIRMATION} in the confirm field to resume the bot")
        at = self.now()
        write_pause(self.data.store, PauseState(False, at, actor, reason))
        operator_log.record_audit(self.data.engine, at, actor, "resume", json.dumps({"reason": reason}))
        log.warning("Resumed by %s (%s)", actor, reason or "no reason given", extra={"event": "resumed"})
        if self.alerts is not None:
            self.alerts.send(Alert("resumed", f"resumed by {actor}: {reason or 'no reason given'}", at))
        return {"paused": False, "reason": reason}
