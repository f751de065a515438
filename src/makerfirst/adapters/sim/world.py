"""The simulated venue's world as a JSON document: balances, orders, fills, timers, the clock.

Paper trading keeps it in the database so a restart continues the same venue (the orders still
resting, the balances they left) instead of a fresh one with the demo balances. Money is written
as decimal strings; nothing goes through a float. The market itself is not part of the world:
a restart drives each product afresh from the mid it had (``mids``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from makerfirst.domain.errors import WorldFormatError as WorldFormatError  # noqa: PLC0414  # re-exported
from makerfirst.domain.orders import Fill, Liquidity, OrderStatus, OrderType, PlaceOrder, Side

WORLD_VERSION = 1


# What reading a damaged world document raises; each becomes a WorldFormatError.
UNREADABLE = (KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError)


def unreadable(broken: Exception) -> WorldFormatError:
    return WorldFormatError(
        f"the paper world kept in the database is unreadable ({type(broken).__name__}: {broken});"
        " start a new one with another --db"
    )


def parse(document: str) -> dict[str, Any]:
    """A world document as saved by the store, checked for its version."""
    try:
        world = json.loads(document)
    except ValueError as broken:
        raise unreadable(broken) from None
    if not isinstance(world, dict):
        raise unreadable(TypeError("not a JSON object"))
    check_version(world)
    return world


def start_of(world: Mapping[str, Any]) -> tuple[float, dict[str, Decimal]]:
    """The world's time and each product's last mid: where a restarted venue and market begin."""
    try:
        return float(world["time"]), {pid: Decimal(mid) for pid, mid in world["mids"].items()}
    except UNREADABLE as broken:
        raise unreadable(broken) from None


@dataclass(slots=True)
class WorldOrder:
    """One order as the venue keeps it (the exchange's ``_SimOrder`` fields)."""

    order_id: str
    command: PlaceOrder
    created_time: float
    status: OrderStatus
    filled_size: Decimal
    filled_value: Decimal
    total_fees: Decimal
    hold_per_unit: Decimal


def money(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: format(amount, "f") for currency, amount in sorted(amounts.items())}


def amounts(document: Mapping[str, str]) -> dict[str, Decimal]:
    return {currency: Decimal(text) for currency, text in document.items()}


def order_json(o: WorldOrder) -> dict[str, Any]:
    c = o.command
    return {
        "order_id": o.order_id,
        "client_order_id": c.client_order_id,
        "product_id": c.product_id,
        "side": c.side.value,
        "order_type": c.order_type.value,
        "size": format(c.size, "f"),
        "limit_price": format(c.limit_price, "f"),
        "end_time": c.end_time,
        "created_time": o.created_time,
        "status": o.status.value,
        "filled_size": format(o.filled_size, "f"),
        "filled_value": format(o.filled_value, "f"),
        "total_fees": format(o.total_fees, "f"),
        "hold_per_unit": format(o.hold_per_unit, "f"),
    }


def order_of(d: Mapping[str, Any]) -> WorldOrder:
    command = PlaceOrder(
        client_order_id=d["client_order_id"],
        product_id=d["product_id"],
        side=Side(d["side"]),
        order_type=OrderType(d["order_type"]),
        size=Decimal(d["size"]),
        limit_price=Decimal(d["limit_price"]),
        end_time=d["end_time"],
    )
    return WorldOrder(
        order_id=d["order_id"],
        command=command,
        created_time=float(d["created_time"]),
        status=OrderStatus(d["status"]),
        filled_size=Decimal(d["filled_size"]),
        filled_value=Decimal(d["filled_value"]),
        total_fees=Decimal(d["total_fees"]),
        hold_per_unit=Decimal(d["hold_per_unit"]),
    )


def fill_json(f: Fill) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "product_id": f.product_id,
        "side": f.side.value,
        "price": format(f.price, "f"),
        "size": format(f.size, "f"),
        "fee": format(f.fee, "f"),
        "liquidity": f.liquidity.value,
        "time": f.time,
    }


def fill_of(d: Mapping[str, Any]) -> Fill:
    return Fill(
        trade_id=d["trade_id"],
        order_id=d["order_id"],
        product_id=d["product_id"],
        side=Side(d["side"]),
        price=Decimal(d["price"]),
        size=Decimal(d["size"]),
        fee=Decimal(d["fee"]),
        liquidity=Liquidity(d["liquidity"]),
        time=float(d["time"]),
    )


def rng_state_json(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss_next = state
    return [version, list(internal), gauss_next]


def rng_state_of(document: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss_next = document
    return (version, tuple(internal), gauss_next)


def check_version(world: Mapping[str, Any]) -> None:
    if world.get("version") != WORLD_VERSION:
        raise WorldFormatError(
            f"the stored paper world has version {world.get('version')!r}, this makerfirst reads"
            f" {WORLD_VERSION}: start a new paper world with another --db"
        )
