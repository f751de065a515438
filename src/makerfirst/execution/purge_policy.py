"""A running bot's sell loops: purges with the policy's ``purge_execution.sell_policy``, every other
loop with the design note's.

Only purges use it: normal sells and buys keep the design note's maker-first loop, whose adaptive
TTLs are tuned for liquid books (the fill curves are measured on the purged junk). The policy
object is built at start from the saved curves (``replay.estimates.purge_sell_policy``); the
backtest runs the same policy classes through the same ``TwapLoop``.
"""

from __future__ import annotations

from makerfirst.algorithms import twap
from makerfirst.algorithms.sell_policies import DesignNote, PolicyView, SellPolicy
from makerfirst.domain.intents import Purpose


class PurgesWith:
    """``purges`` for purge loops, ``others`` (the design note's) for every other loop."""

    def __init__(self, purges: SellPolicy, others: SellPolicy | None = None) -> None:
        self.purges = purges
        self.others = others or DesignNote()

    @property
    def name(self) -> str:
        return self.purges.name

    def decide(self, view: PolicyView) -> twap.Decision:
        chosen = self.purges if view.rules.purpose is Purpose.PURGE else self.others
        return chosen.decide(view)
