"""The taker leg of a backtest: what each taker order gave up through the touch it was priced from.

The design note caps its one IOC at ``taker_max_slippage_bps`` under the best bid the engine saw
when it priced the order (``pricing.taker_limit_price``; issue 13's target "the taker leg never
beyond the cap"). This module measures that bound on what the run recorded, never on the limit it
was meant to respect:

* **The reference** of a taker order is the touch (a sell: the best bid) of the book the engine
  priced it from, the ``AttemptReport.book`` of the loop's ``TakerEnded`` event
  (:class:`TakerReferences` listens for it). An IOC the episode's end cut off before that event
  (it was still in flight at the deadline) has its reference recovered from its limit and the cap
  (``limit / (1 − cap)``, within a tick of the bid; for a sell whose limit was raised toward the
  bid to stay over the product's minimum notional, ``pricing.orderable_taker_price``, above the
  bid: its slippage is then over-stated, never under), and is counted as such.
* **Slippage** of a fill, in bps of the reference, positive through the touch (a sell: below the
  bid). Per order: its deepest fill (what the cap bounds) and its size-weighted average.
* **Beyond the cap**: an order whose deepest fill went further through the touch than the cap of
  the policy its episode ran with. A venue that honours the IOC's limit never produces one; a
  count above 0 means the venue, the fill model or the pricing broke the bound.
* **The summary** per policy: taker orders, the episodes with one, the worst order, the p95 of the
  per-episode worst (a bootstrap over those episodes, the independent units) and the mean of the
  orders' average slippage, each figure with its sample size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Fill, OrderReport, OrderType, Side
from makerfirst.execution.loop_events import LoopEvent, TakerEnded, log_event
from makerfirst.replay.stats import EMPTY, Interval, bootstrap, mean_of, quantile_of

# Slippage is compared with the cap at this resolution: a reference recovered from the limit
# (a Decimal division) must not turn a fill exactly at the cap into one a hair beyond it.
COMPARE_PLACES = Decimal("0.000001")


def through_touch_bps(side: Side, reference: Decimal, price: Decimal) -> Decimal:
    """How far ``price`` went through ``reference`` (the touch it was priced from), in bps of it:
    a sell below the bid, a buy above the ask, positive; price improvement is negative."""
    moved = reference - price if side is Side.SELL else price - reference
    return moved / reference * BPS


def reference_from_limit(side: Side, limit_price: Decimal, cap_bps: int) -> Decimal:
    """The touch an IOC was priced from, recovered from its limit (``touch × (1 ∓ cap)``)."""
    cap = Decimal(cap_bps) / BPS
    return limit_price / (1 - cap) if side is Side.SELL else limit_price / (1 + cap)


@dataclass(frozen=True, slots=True)
class TakerOrder:
    """One taker order of an episode and what it filled. ``reference``: the touch of the book it
    was priced from (``reference_from_limit``: recovered from its limit, no priced book seen)."""

    order_id: str
    side: Side
    reference: Decimal
    limit_price: Decimal
    cap_bps: int
    size: Decimal
    filled_size: Decimal
    filled_value: Decimal
    deepest_price: Decimal | None  # its fill furthest through the touch; None: nothing filled
    reference_from_limit: bool = False

    @property
    def slippage_bps(self) -> Decimal | None:
        """Its deepest fill through the reference (bps); None when nothing filled."""
        if self.deepest_price is None:
            return None
        return through_touch_bps(self.side, self.reference, self.deepest_price)

    @property
    def average_slippage_bps(self) -> Decimal | None:
        """Its size-weighted average fill through the reference (bps); None when nothing filled."""
        if self.filled_size <= ZERO:
            return None
        return through_touch_bps(self.side, self.reference, self.filled_value / self.filled_size)

    @property
    def beyond_cap(self) -> bool:
        slippage = self.slippage_bps
        return slippage is not None and slippage.quantize(COMPARE_PLACES) > self.cap_bps


class TakerReferences:
    """A loop-event sink that remembers the touch each taker order was priced from, by order id,
    and passes every event on (default: to the log, as the loop would)."""

    def __init__(self) -> None:
        self.touches: dict[str, Decimal] = {}

    def observe(self, event: LoopEvent) -> None:
        if isinstance(event, TakerEnded) and event.attempt.order_id is not None:
            book = event.attempt.book
            touch = book.best_bid if event.attempt.side is Side.SELL else book.best_ask
            self.touches[event.attempt.order_id] = touch
        log_event(event)


def taker_orders(
    orders: Iterable[OrderReport], fills: Sequence[Fill], touches: Mapping[str, Decimal], cap_bps: int
) -> tuple[TakerOrder, ...]:
    """The limit IOCs among ``orders`` with their ``fills`` and references (``touches`` by order id,
    else recovered from the limit), in the order they were created."""
    by_order: dict[str, list[Fill]] = {}
    for f in fills:
        by_order.setdefault(f.order_id, []).append(f)
    out = []
    for o in sorted(orders, key=lambda o: o.created_time):
        if o.order_type is not OrderType.LIMIT_IOC:
            continue
        mine = by_order.get(o.order_id, [])
        touch = touches.get(o.order_id)
        reference = touch if touch is not None else reference_from_limit(o.side, o.limit_price, cap_bps)
        deepest = None
        if mine:
            prices = [f.price for f in mine]
            deepest = min(prices) if o.side is Side.SELL else max(prices)
        out.append(
            TakerOrder(
                order_id=o.order_id,
                side=o.side,
                reference=reference,
                limit_price=o.limit_price,
                cap_bps=cap_bps,
                size=o.size,
                filled_size=sum((f.size for f in mine), start=ZERO),
                filled_value=sum((f.size * f.price for f in mine), start=ZERO),
                deepest_price=deepest,
                reference_from_limit=touch is None,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TakerLeg:
    """A policy's taker orders over its episodes (bps through the touch the IOC was priced from).

    ``worst_bps``: the deepest fill of any order, None without a filled one; ``p95_bps``: the p95
    of each episode's worst, a bootstrap over the episodes with a filled taker order (``n``);
    ``average_mean_bps``: the mean over filled orders of their size-weighted average slippage."""

    orders: int
    filled_orders: int
    episodes_with_taker: int
    episodes: int
    worst_bps: float | None
    p95_bps: Interval
    average_mean_bps: Interval
    beyond_cap: int
    caps_bps: tuple[int, ...]
    references_from_limit: int

    def as_json(self) -> dict[str, object]:
        return {
            "orders": self.orders,
            "filled_orders": self.filled_orders,
            "episodes_with_taker": self.episodes_with_taker,
            "episodes": self.episodes,
            "worst_bps": self.worst_bps,
            "p95_bps": self.p95_bps.as_json(),
            "average_mean_bps": self.average_mean_bps.as_json(),
            "beyond_cap": self.beyond_cap,
            "caps_bps": list(self.caps_bps),
            "references_from_limit": self.references_from_limit,
        }

    def line(self) -> str:
        """``taker leg: N orders in M episodes, worst X bps under the bid, K beyond the C bps cap``."""
        if self.worst_bps is not None:
            worst = f" worst {self.worst_bps:.1f} bps under the bid,"
        else:
            worst = " none filled," if self.orders else ""
        caps = "/".join(str(c) for c in self.caps_bps) or "-"
        text = (
            f"taker leg: {self.orders} orders in {self.episodes_with_taker} of {self.episodes} episodes,"
            f"{worst} {self.beyond_cap} beyond the {caps} bps cap"
        )
        if self.p95_bps.value is not None:
            low, high = self.p95_bps.low, self.p95_bps.high
            band = "" if low is None or high is None else f" ({low:.1f}…{high:.1f})"
            text += f"; p95 {self.p95_bps.value:.1f}{band} bps, n={self.p95_bps.n}"
        if self.references_from_limit:
            text += f"; {self.references_from_limit} referenced from their limit"
        return text


def summarize_taker_leg(
    per_episode: Sequence[Sequence[TakerOrder]], caps_bps: Iterable[int] = (), *, seed: int = 1
) -> TakerLeg:
    """The taker leg of one policy from each of its episodes' taker orders (empty: no taker);
    ``caps_bps``: the caps its episodes ran with (those of its orders are added)."""
    orders = [t for episode in per_episode for t in episode]
    filled = [t for t in orders if t.slippage_bps is not None]
    worst_per_episode = [
        max(s for t in episode if (s := t.slippage_bps) is not None)
        for episode in per_episode
        if any(t.slippage_bps is not None for t in episode)
    ]
    worst = np.array([float(w) for w in worst_per_episode], dtype=np.float64)
    averages = np.array([float(a) for t in filled if (a := t.average_slippage_bps) is not None])
    return TakerLeg(
        orders=len(orders),
        filled_orders=len(filled),
        episodes_with_taker=sum(1 for episode in per_episode if episode),
        episodes=len(per_episode),
        worst_bps=round(float(max(worst_per_episode)), 2) if worst_per_episode else None,
        p95_bps=bootstrap(len(worst), quantile_of(worst, 0.95), seed=seed) if len(worst) else EMPTY,
        average_mean_bps=bootstrap(len(averages), mean_of(averages), seed=seed) if len(averages) else EMPTY,
        beyond_cap=sum(t.beyond_cap for t in orders),
        caps_bps=tuple(sorted({*caps_bps, *(t.cap_bps for t in orders)})),
        references_from_limit=sum(t.reference_from_limit for t in orders),
    )
