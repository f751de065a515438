"""Client order ids: tags that make our orders recognisable on the exchange.

Purge orders start ``purge_`` (maker) and ``purge_taker_`` (taker). The tag is for people and
reconciliation; no decision ever reads it back (the intent's ``Purpose`` decides).
"""

from __future__ import annotations

import random

from makerfirst.domain.intents import Purpose


class ClientOrderIds:
    """Seeded id source, so a simulation's transcript is reproducible."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(None if seed is None else f"client-order-ids:{seed}")

    def _token(self) -> str:
        return f"{self._rng.getrandbits(56):014x}"

    def maker(self, purpose: Purpose) -> str:
        return f"purge_{self._token()}" if purpose is Purpose.PURGE else f"mf_{self._token()}"

    def taker(self, purpose: Purpose) -> str:
        return f"purge_taker_{self._token()}" if purpose is Purpose.PURGE else f"mf_taker_{self._token()}"
