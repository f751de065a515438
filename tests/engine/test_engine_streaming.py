"""With a venue that pushes order changes (``OrderUpdates``), the engine acts on a fill when it
arrives instead of at its next poll."""

from __future__ import annotations

from decimal import Decimal

from makerfirst.adapters.sim.driver import MarketOrder, PlaceLimit, ScriptedMarket
from makerfirst.adapters.sim.exchange import SimulatedExchange
from makerfirst.clock import VirtualClock
from makerfirst.domain.orders import Side
from makerfirst.execution.engine import AttemptOutcome
from makerfirst.ports import OrderUpdates
from simkit import make_exchange, policy_with, sell

PUSH_DELAY_SEC = 0.01
FILL_AT = 1_003.3
BOOK = [
    (1_000.0, PlaceLimit("bid", Side.BUY, 14_500, 100_000)),
    (1_000.0, PlaceLimit("ask", Side.SELL, 14_530, 100_000)),
    (FILL_AT, MarketOrder("buyer", Side.BUY, 1_116)),  # takes our whole sell, the best ask
]


class PushingExchange:
    """The simulated exchange with a push channel, as a fake of the streaming adapter: an order's
    change reaches the waiter within ``PUSH_DELAY_SEC``."""

    def __init__(self, exchange: SimulatedExchange, clock: VirtualClock) -> None:
        self._exchange = exchange
        self._clock = clock
        self.waits = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._exchange, name)

    def _state(self, order_id: str) -> object:
        self._exchange.advance()
        mine = [r for r in self._exchange.all_orders() if r.order_id == order_id]
        return (mine[0].status, mine[0].filled_size) if mine else None

    async def wait_order_update(self, order_id: str, until: float) -> None:
        self.waits += 1
        before = self._state(order_id)
        while self._clock.now() < until:
            await self._clock.sleep_until(min(until, self._clock.now() + PUSH_DELAY_SEC))
            if self._state(order_id) != before:
                return


def _first_attempt_end(pushing: bool) -> float:
    clock = VirtualClock(start=1_000.0)
    exchange = make_exchange(clock, {"PENGU": "1116", "USD": "0"})
    exchange.attach_market("PENGU-USD", ScriptedMarket(BOOK))
    venue = PushingExchange(exchange, clock) if pushing else exchange
    assert isinstance(venue, OrderUpdates) is pushing
    policy = policy_with("execution.order_poll_interval_sec=5")
    report = sell(venue, clock, policy, "1116")  # type: ignore[arg-type]
    first = report.attempts[0]
    assert first.outcome is AttemptOutcome.FILLED and first.filled_size == Decimal(1116)
    return first.ended_at


def test_a_pushed_fill_ends_the_attempt_when_it_arrives_not_at_the_next_poll() -> None:
    polled, pushed = _first_attempt_end(pushing=False), _first_attempt_end(pushing=True)
    assert polled >= 1_005.0  # the poll after the fill, 5 s apart
    assert FILL_AT <= pushed <= FILL_AT + 2 * PUSH_DELAY_SEC


def test_the_runners_metered_venue_passes_the_push_through_and_sleeps_without_one() -> None:
    import asyncio  # noqa: PLC0415

    from makerfirst.runner.metered import MeteredExchange  # noqa: PLC0415

    clock = VirtualClock(start=1_000.0)
    exchange = make_exchange(clock, {"PENGU": "1116", "USD": "0"})
    pushing = PushingExchange(exchange, clock)
    metered = MeteredExchange(pushing, clock)  # type: ignore[arg-type]
    asyncio.run(metered.wait_order_update("none", 1_002.0))
    assert pushing.waits == 1 and clock.now() == 1_002.0
    plain = MeteredExchange(exchange, clock)
    asyncio.run(plain.wait_order_update("none", 1_005.0))
    assert clock.now() == 1_005.0 and plain.requests == 0
