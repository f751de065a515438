"""Small market scenarios for backtest tests, written against the ``MarketDriver`` protocol
(import as ``marketkit``). Prices in ticks of ``X`` (0.0001), sizes in lots (1 X). Makers only
rest behind the touch (they never cross); only a taker's market order ever trades with us."""

from __future__ import annotations

import random
from decimal import Decimal

from makerfirst.adapters.sim.driver import Cancel, MarketOrder, PlaceLimit, apply_action
from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product

X = Product("X-USD", "X", "USD", Decimal("0.0001"), Decimal(1), Decimal(1), Decimal(1))
BID, ASK = 9975, 10025  # mid 1.0000, 50 bps spread


class _Scenario:
    """Lays out a two-level book at ``start``, then plays ``_next_action`` at its own times."""

    def __init__(self, start: float, seed: int) -> None:
        self._rng = random.Random(seed)
        self._next = start
        self._ids = 0
        self._laid = False
        self.bid, self.ask = BID, ASK
        self._bid_id, self._ask_id = "", ""

    def _id(self, kind: str) -> str:
        self._ids += 1
        return f"{kind}-{self._ids}"

    def next_time(self) -> float:
        return self._next

    def step(self, engine: MatchingEngine) -> list[Match]:
        if not self._laid:
            self._laid = True
            self._relay(engine)
            self._next += self._wait()
            return []
        matches = self._act(engine)
        self._next += self._wait()
        return matches

    def _relay(self, engine: MatchingEngine) -> None:
        """The makers' quotes at the current bid and ask (post-only: behind any resting order of ours)."""
        for order_id in (self._bid_id, self._ask_id):
            if order_id:
                apply_action(engine, Cancel(order_id))
        self._bid_id, self._ask_id = self._id("mm-bid"), self._id("mm-ask")
        ours = engine.best_ask()  # only our sells rest on the ask side now
        bid = self.bid if ours is None else min(self.bid, ours - 1)  # post-only: never through us
        apply_action(engine, PlaceLimit(self._bid_id, Side.BUY, bid, 100_000))
        apply_action(engine, PlaceLimit(self._ask_id, Side.SELL, self.ask, 50))

    def _wait(self) -> float:
        raise NotImplementedError

    def _act(self, engine: MatchingEngine) -> list[Match]:
        raise NotImplementedError


class SteadyBuyers(_Scenario):
    """Buyers who arrive every ~3 s (exponential) and lift 10-60 lots with a market order; after
    each the makers re-lay their quotes a tick up, down or where they were, the ask topped back up to
    50 lots (behind anyone resting there)."""

    def _wait(self) -> float:
        return self._rng.expovariate(1 / 3.0)

    def _act(self, engine: MatchingEngine) -> list[Match]:
        matches = apply_action(engine, MarketOrder(self._id("buyer"), Side.BUY, self._rng.randint(10, 60)))
        step = self._rng.choice((-1, 0, 1))
        self.bid, self.ask = self.bid + step, self.ask + step
        self._relay(engine)
        return matches


class FallingNoBuyers(_Scenario):
    """Nobody buys; every ~5 s (exponential) the makers re-lay both quotes one tick lower."""

    def _wait(self) -> float:
        return self._rng.expovariate(1 / 5.0)

    def _act(self, engine: MatchingEngine) -> list[Match]:
        self.bid, self.ask = self.bid - 1, self.ask - 1
        self._relay(engine)
        return []
