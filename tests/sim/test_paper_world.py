"""The simulated venue's world survives a restart: export it, build a new venue, restore it.

What a paper restart relies on: the balances and holds, every order (resting ones back in their
book), every fill, the GTD timers (an end that passed while the venue was away fires on the
first request), the order-id generator and client-id idempotency. All money stays exact.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from makerfirst.adapters.sim.driver import MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.adapters.sim.world import WorldFormatError
from makerfirst.clock import VirtualClock
from makerfirst.domain.balances import Balance
from makerfirst.domain.orders import OrderAccepted, OrderStatus, OrderType, PlaceOrder, Side
from simkit import make_exchange

D = Decimal
BOOK = [
    (1_000.0, PlaceLimit("bid1", Side.BUY, 14_500, 2_000)),
    (1_000.0, PlaceLimit("ask1", Side.SELL, 14_520, 3_000)),
]


def gtd(cid: str, price: str, size: str, end: float) -> PlaceOrder:
    return PlaceOrder(cid, "PENGU-USD", Side.SELL, OrderType.POST_ONLY_GTD, D(size), D(price), end)


def first_venue(clock: VirtualClock) -> tuple[SimulatedExchange, str, str]:
    """A venue with one order filled and one resting (size 1000 at 0.014510 until t=1100)."""
    venue = make_exchange(clock)
    venue.attach_market("PENGU-USD", ScriptedMarket([*BOOK, (1_005.0, MarketOrder("t1", Side.BUY, 100))]))
    filled = asyncio.run(venue.place_order(gtd("c-filled", "0.014510", "100", 1_050.0)))
    clock.advance_to(1_010.0)
    resting = asyncio.run(venue.place_order(gtd("c-resting", "0.014510", "1000", 1_100.0)))
    assert isinstance(filled, OrderAccepted) and isinstance(resting, OrderAccepted)
    return venue, filled.order_id, resting.order_id


def restored(world: dict[str, Any], clock: VirtualClock, script: list[Any]) -> SimulatedExchange:
    """A new venue (other starting balances, which the world replaces) continuing ``world``."""
    venue = make_exchange(clock, {"PENGU": "1", "USD": "1"})
    venue.attach_market("PENGU-USD", ScriptedMarket(script))
    venue.restore_world(json.loads(json.dumps(world)))  # through JSON, as the store keeps it
    return venue


def test_a_restored_venue_has_the_same_balances_orders_and_fills(clock: VirtualClock) -> None:
    before, filled_id, resting_id = first_venue(clock)
    world = before.export_world()
    after = restored(world, clock, BOOK)
    assert asyncio.run(after.get_balance_sheet()) == asyncio.run(before.get_balance_sheet())
    assert asyncio.run(after.get_balance_sheet())["PENGU"] == Balance(D(8_900), D(1_000))
    assert after.all_orders() == before.all_orders()
    assert after.all_fills() == before.all_fills()
    assert [o.order_id for o in asyncio.run(after.list_open_orders())] == [resting_id]
    assert asyncio.run(after.get_order(filled_id)).status is OrderStatus.FILLED


def test_the_resting_order_rests_in_the_book_again_and_fills_from_a_taker(clock: VirtualClock) -> None:
    before, _, resting_id = first_venue(clock)
    after = restored(before.export_world(), clock, [(1_020.0, MarketOrder("t2", Side.BUY, 400))])
    assert after.engine("PENGU-USD").resting(resting_id) is not None
    clock.advance_to(1_021.0)
    report = asyncio.run(after.get_order(resting_id))
    assert (report.status, report.filled_size) == (OrderStatus.OPEN, D(400))
    assert asyncio.run(after.get_balance_sheet())["PENGU"] == Balance(D(8_900), D(600))


def test_a_gtd_end_that_passed_while_away_expires_it_and_releases_the_hold(clock: VirtualClock) -> None:
    before, _, resting_id = first_venue(clock)
    world = before.export_world()
    clock.advance_to(1_200.0)  # the venue was away past the order's end (t=1100)
    after = restored(world, clock, BOOK)
    assert asyncio.run(after.get_order(resting_id)).status is OrderStatus.EXPIRED
    assert asyncio.run(after.get_balance_sheet())["PENGU"] == Balance(D(9_900), D(0))


def test_ids_continue_and_a_known_client_id_still_answers_with_its_order(clock: VirtualClock) -> None:
    before, filled_id, resting_id = first_venue(clock)
    after = restored(before.export_world(), clock, BOOK)
    again = asyncio.run(after.place_order(gtd("c-resting", "0.014510", "1000", 1_100.0)))
    assert isinstance(again, OrderAccepted) and again.order_id == resting_id
    new = asyncio.run(after.place_order(gtd("c-new", "0.014515", "100", 1_100.0)))
    assert isinstance(new, OrderAccepted) and new.order_id not in (filled_id, resting_id)


def test_money_in_the_world_is_decimal_strings(clock: VirtualClock) -> None:
    before, _, _ = first_venue(clock)
    world = before.export_world()
    assert isinstance(world["available"]["USD"], str)
    assert D(world["available"]["USD"]) == D(1000) + D("1.451") * (1 - D("0.006"))
    for order in world["orders"]:
        assert all(isinstance(order[k], str) for k in ("size", "limit_price", "filled_size", "hold_per_unit"))


def test_a_world_of_another_version_is_refused_with_what_to_do(clock: VirtualClock) -> None:
    before, _, _ = first_venue(clock)
    world = {**before.export_world(), "version": 99}
    with pytest.raises(WorldFormatError, match="another --db"):
        restored(world, clock, BOOK)
