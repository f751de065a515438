"""Implementation shortfall: the one definition the sell loop's report and the backtests share.

``IS = cost / (Q·m₀)`` in basis points, positive when bad, against the arrival mid ``m₀``:

* a sell: ``cost = Q·m₀ − (Σpᵢqᵢ − ΣFᵢ) − R_net`` (fills net of fees, the unsold residual charged
  as a forced taker sale into the bids, ``R_net`` its proceeds after the taker fee);
* a buy: ``cost = (Σpᵢqᵢ + ΣFᵢ) + R_cost − Q·m₀`` (the residual bought from the asks, fee included).

Anything not done is charged as if done now with the taker fee (execution-theory.md §4), so a
policy cannot look cheap by not trading.
"""

from __future__ import annotations

from decimal import Decimal

from makerfirst.domain.book import OrderBook
from makerfirst.domain.money import BPS, ZERO
from makerfirst.domain.orders import Side


def forced_residual_value(book: OrderBook, side: Side, size: Decimal, taker_fee: Decimal) -> Decimal:
    """What trading ``size`` into ``book`` right now with the taker fee is worth: a sell's proceeds
    after the fee (bids that cannot absorb it all leave the rest worth 0), a buy's cost with the fee."""
    if size <= ZERO:
        return ZERO
    if side is Side.SELL:
        _, gross = book.sell_proceeds(size)
        return gross * (1 - taker_fee)
    _, gross = book.buy_cost(size)
    return gross * (1 + taker_fee)


def implementation_shortfall_bps(
    side: Side,
    size: Decimal,
    arrival_mid: Decimal,
    *,
    filled_value: Decimal,
    fees: Decimal,
    residual_value: Decimal,
) -> Decimal:
    """IS in bps of trading ``size`` (base) against ``arrival_mid``; ``residual_value`` is
    :func:`forced_residual_value` of what was left. A zero-size trade costs nothing."""
    benchmark = size * arrival_mid
    if benchmark <= ZERO:
        return ZERO
    if side is Side.SELL:
        cost = benchmark - (filled_value - fees) - residual_value
    else:
        cost = (filled_value + fees) + residual_value - benchmark
    return cost / benchmark * BPS
