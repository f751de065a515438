"""The virtual clock interleaves sleeping tasks exactly as real time would, instantly."""

from __future__ import annotations

import asyncio

from makerfirst.clock import VirtualClock


def test_concurrent_sleepers_wake_in_deadline_order_at_their_deadlines() -> None:
    clock = VirtualClock(start=0.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, step: float, times: int) -> None:
        for _ in range(times):
            await clock.sleep_until(clock.now() + step)
            woke.append((name, clock.now()))

    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper("slow", 25.0, 2))
            tg.create_task(sleeper("fast", 10.0, 4))

    asyncio.run(main())
    assert woke == [
        ("fast", 10.0),
        ("fast", 20.0),
        ("slow", 25.0),
        ("fast", 30.0),
        ("fast", 40.0),
        ("slow", 50.0),
    ]


def test_a_25_second_ttl_takes_no_wall_time() -> None:
    clock = VirtualClock(start=100.0)
    asyncio.run(clock.sleep_until(125.0))
    assert clock.now() == 125.0


def test_sleeping_into_the_past_does_not_move_time() -> None:
    clock = VirtualClock(start=100.0)
    asyncio.run(clock.sleep_until(50.0))
    assert clock.now() == 100.0


def test_a_cancelled_sleeper_does_not_pull_time_forward() -> None:
    clock = VirtualClock(start=0.0)

    async def main() -> None:
        long = asyncio.create_task(clock.sleep_until(1_000.0))
        await asyncio.sleep(0)
        long.cancel()
        await clock.sleep_until(5.0)

    asyncio.run(main())
    assert clock.now() == 5.0
