"""Record a synthetic market as a tape, so it is measured by exactly the code that measures a capture.

The market runs alone on a matching engine; after each of its steps the executions become
``TRADE`` rows (one per maker order filled, the aggressor's side, as Coinbase prints them) and
every changed price among the top ``DEPTH`` levels a side becomes a ``LEVEL`` row. The result is
a :class:`~makerfirst.replay.driver.ProductTape` that ``ReplayBook`` replays with the same
conservative fill rule as the real capture.
"""

from __future__ import annotations

from decimal import Decimal

from makerfirst.adapters.sim.market import MarketParams, SyntheticMarket
from makerfirst.adapters.sim.matching import MatchingEngine
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.replay.driver import ProductTape
from makerfirst.replay.events import ASK, BID, BUY, CLEAR, LEVEL, SELL, TRADE, ProductScale

DEPTH = 20


def record_tape(
    scale: ProductScale, params: MarketParams, start_price: Decimal, *, seconds: float, seed: int
) -> ProductTape:
    """Run ``params`` for ``seconds`` from time 0 and return what a feed of it would have shown."""
    product = Product(scale.product_id, "BASE", "QUOTE", scale.tick, scale.lot, scale.lot, ZERO)
    engine = MatchingEngine()
    market = SyntheticMarket(product, params, start_price, 0.0, seed)
    rows: list[tuple[float, int, int, int, int]] = [(0.0, CLEAR, 0, 0, 0)]
    shown: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
    while market.next_time() < seconds:
        when = market.next_time()
        for match in market.step(engine):
            rows.append((when, TRADE, BUY if match.taker_side is Side.BUY else SELL, match.price, match.lots))
        for side, code in ((Side.BUY, BID), (Side.SELL, ASK)):
            now = dict(engine.levels(side, DEPTH))
            before = shown[side]
            for price in before.keys() - now.keys():
                rows.append((when, LEVEL, code, price, 0))
            for price, lots in now.items():
                if before.get(price) != lots:
                    rows.append((when, LEVEL, code, price, lots))
            shown[side] = now
    return ProductTape.of(scale, rows)
