"""A synthetic market that drives the simulator: seeded, reproducible, shaped like a real one.

Makers keep a ladder of levels around a drifting fair price and refresh it at Poisson times
(topping up eaten levels at the back of the queue, cancelling levels the price has left);
takers arrive as Poisson processes per side with Pareto-tailed sizes and sweep the book.
Random numbers shape the other participants only: everything reaching the book is integer
ticks and lots, and our own orders are priced by the engine in ``Decimal``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.adapters.sim.driver import NEVER, MarketOrder, PlaceLimit, apply_action
from makerfirst.adapters.sim.matching import Match, MatchingEngine
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product


@dataclass(frozen=True, slots=True)
class MarketParams:
    """The shape of a market. Rates are per second, sizes in quote currency (USD)."""

    name: str
    half_spread_bps: float  # the makers' quote distance from the fair price
    levels: int  # price levels per side
    level_spacing_bps: float  # distance between consecutive levels
    level_depth_usd: float  # median resting notional per level at the touch
    depth_growth: float  # each deeper level holds this many times the one before
    taker_buy_per_sec: float
    taker_sell_per_sec: float
    taker_median_usd: float
    taker_tail_alpha: float  # Pareto tail index of taker sizes (smaller = heavier)
    taker_max_usd: float
    vol_per_sqrt_sec: float  # standard deviation of log returns over one second
    refresh_per_sec: float  # rate of maker refreshes


class SyntheticMarket:
    """A :class:`~makerfirst.adapters.sim.driver.MarketDriver` for one product."""

    def __init__(
        self, product: Product, params: MarketParams, start_price: Decimal, start_time: float, seed: int
    ) -> None:
        self._params = params
        self._rng = random.Random(f"{seed}:{product.product_id}:{params.name}")
        self._fair_ticks = float(int(start_price / product.price_increment))
        # Quote notional of one lot at one tick: turns USD amounts into lots at a price in ticks.
        self._usd_per_tick_lot = float(product.price_increment * product.base_increment)
        self._mine: dict[str, tuple[Side, int]] = {}
        self._ids = 0
        self._last_refresh = start_time
        self._next_refresh = start_time  # the first refresh lays out the book
        self._next_buy = self._arrival(start_time, params.taker_buy_per_sec)
        self._next_sell = self._arrival(start_time, params.taker_sell_per_sec)

    @property
    def params(self) -> MarketParams:
        return self._params

    def volume_24h_quote(self) -> Decimal:
        """The market's expected taker volume over 24 h at today's price, in quote currency:
        arrival rates × the mean of the capped Pareto size × 86,400 s."""
        p = self._params
        scale = p.taker_median_usd / 2 ** (1 / p.taker_tail_alpha)
        a = p.taker_tail_alpha
        if a == 1:
            mean = scale * (1 + math.log(p.taker_max_usd / scale))
        else:
            mean = scale * a / (a - 1) * (1 - (scale / p.taker_max_usd) ** (a - 1))
        mean = min(mean, p.taker_max_usd)
        daily = (p.taker_buy_per_sec + p.taker_sell_per_sec) * mean * 86_400
        return Decimal(int(daily))

    def next_time(self) -> float:
        return min(self._next_refresh, self._next_buy, self._next_sell)

    def step(self, engine: MatchingEngine) -> list[Match]:
        when = self.next_time()
        if when == self._next_refresh:
            self._next_refresh = self._arrival(when, self._params.refresh_per_sec)
            return self._refresh(engine, when)
        side = Side.BUY if when == self._next_buy else Side.SELL
        if side is Side.BUY:
            self._next_buy = self._arrival(when, self._params.taker_buy_per_sec)
        else:
            self._next_sell = self._arrival(when, self._params.taker_sell_per_sec)
        return apply_action(engine, MarketOrder(self._new_id(), side, self._taker_lots()))

    # -- internals ----------------------------------------------------------------------------------
    def _arrival(self, after: float, rate: float) -> float:
        return after + self._rng.expovariate(rate) if rate > 0 else NEVER

    def _new_id(self) -> str:
        self._ids += 1
        return f"mkt-{self._ids}"

    def _lots_for_usd(self, usd: float, price_ticks: int) -> int:
        return max(1, int(usd / (price_ticks * self._usd_per_tick_lot)))

    def _taker_lots(self) -> int:
        p = self._params
        # Pareto with the given tail index, scaled so that its median is taker_median_usd.
        scale = p.taker_median_usd / 2 ** (1 / p.taker_tail_alpha)
        usd = min(p.taker_max_usd, scale * (1 - self._rng.random()) ** (-1 / p.taker_tail_alpha))
        return self._lots_for_usd(usd, max(1, round(self._fair_ticks)))

    def _ladder(self) -> dict[Side, list[int]]:
        p, fair = self._params, self._fair_ticks
        half = max(1, round(fair * p.half_spread_bps / 10_000))
        spacing = max(1, round(fair * p.level_spacing_bps / 10_000))
        bid0, ask0 = math.floor(fair) - half + 1, math.ceil(fair) + half - 1
        if ask0 <= bid0:
            ask0 = bid0 + 1
        return {
            Side.BUY: [bid0 - i * spacing for i in range(p.levels) if bid0 - i * spacing > 0],
            Side.SELL: [ask0 + i * spacing for i in range(p.levels)],
        }

    def _refresh(self, engine: MatchingEngine, when: float) -> list[Match]:
        p = self._params
        elapsed = max(0.0, when - self._last_refresh)
        self._last_refresh = when
        if p.vol_per_sqrt_sec > 0 and elapsed > 0:
            self._fair_ticks *= math.exp(p.vol_per_sqrt_sec * math.sqrt(elapsed) * self._rng.gauss(0.0, 1.0))
        ladder = self._ladder()
        # Forget what was filled; cancel what the fair price has left behind.
        resting: dict[tuple[Side, int], int] = {}
        for order_id, (side, price) in list(self._mine.items()):
            order = engine.resting(order_id)
            if order is None:
                del self._mine[order_id]
            elif price not in ladder[side]:
                engine.cancel(order_id)
                del self._mine[order_id]
            else:
                resting[side, price] = resting.get((side, price), 0) + order.remaining
        matches: list[Match] = []
        for side in (Side.SELL, Side.BUY):
            for depth_index, price in enumerate(ladder[side]):
                wanted_usd = (
                    p.level_depth_usd * p.depth_growth**depth_index * self._rng.lognormvariate(0, 0.5)
                )
                wanted = self._lots_for_usd(wanted_usd, price)
                have = resting.get((side, price), 0)
                if have * 2 < wanted:  # top up only levels that were eaten: queues keep their order
                    order_id = self._new_id()
                    matches += apply_action(engine, PlaceLimit(order_id, side, price, wanted - have))
                    if engine.resting(order_id) is not None:
                        self._mine[order_id] = (side, price)
        return matches
