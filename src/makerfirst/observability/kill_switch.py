"""The kill switch's persisted state: one document in the runner's state table, so a paused bot
stays paused across a restart until someone resumes it. The runner reads it at the start of every
cycle; the dashboard writes it (and an audit row) when the operator presses the switch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

KILL_SWITCH_DOCUMENT = "kill_switch"


class DocumentStore(Protocol):
    def save_document(self, name: str, document: str) -> None: ...

    def load_document(self, name: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PauseState:
    paused: bool
    changed_at: float | None = None
    actor: str = ""
    reason: str = ""


def read_pause(store: DocumentStore) -> PauseState:
    document = store.load_document(KILL_SWITCH_DOCUMENT)
    if document is None:
        return PauseState(paused=False)
    fields = json.loads(document)
    return PauseState(
        paused=bool(fields.get("paused", False)),
        changed_at=fields.get("changed_at"),
        actor=str(fields.get("actor", "")),
        reason=str(fields.get("reason", "")),
    )


def write_pause(store: DocumentStore, state: PauseState) -> None:
    store.save_document(KILL_SWITCH_DOCUMENT, json.dumps(asdict(state)))
