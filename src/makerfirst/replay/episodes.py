"""Episodes: what every policy is judged on, the same for all of them (a paired design).

An episode is (product, arrival time, size, deadline). Sizes are in USD (converted to base at the
arrival mid); the deadline is seconds after arrival, when anything unsold is charged as a forced
taker sale. Episodes are drawn from a seed, so a run is reproducible bit for bit.

**Calibration vs evaluation.** A capture is split in time at ``calibration_share`` (default the
first half): market parameters are fitted on the first part only (``calibrate.py``), replay
episodes arrive in the second part only, so no parameter is ever judged on the data it was fitted on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.errors import MakerfirstError

DEFAULT_SIZES_USD = (Decimal(10), Decimal(25), Decimal(45))  # purges under the $50 taker threshold


@dataclass(frozen=True, slots=True)
class Window:
    """A time span ``[start, end)`` in seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Episode:
    """One sell to judge. ``arrival`` is on the market's own clock: epoch seconds of the capture for
    a replay, seconds after the warm-up for a synthetic market. ``seed`` seeds the synthetic market
    (every policy sees the same one)."""

    episode_id: int
    product_id: str
    arrival: float
    size_usd: Decimal
    deadline_sec: float
    seed: int


def split_window(span: Window, calibration_share: float) -> tuple[Window, Window]:
    """(calibration, evaluation): the first ``calibration_share`` of ``span``, then the rest."""
    if not 0 < calibration_share < 1:
        raise MakerfirstError(f"calibration share must be between 0 and 1, got {calibration_share}")
    split = span.start + span.length * calibration_share
    return Window(span.start, split), Window(split, span.end)


def make_episodes(
    product_ids: Sequence[str],
    *,
    per_product: int,
    window: Window,
    deadline_sec: float,
    seed: int,
    sizes_usd: Sequence[Decimal] = DEFAULT_SIZES_USD,
    first_id: int = 0,
) -> list[Episode]:
    """``per_product`` episodes for each product: arrivals uniform in ``window`` such that the deadline
    falls inside it, sizes cycling through ``sizes_usd`` (so every size is covered evenly)."""
    if deadline_sec <= 0:
        raise MakerfirstError(f"the deadline must be positive, got {deadline_sec} s")
    latest = window.end - deadline_sec
    if latest < window.start:
        raise MakerfirstError(
            f"a {deadline_sec:.1f} s deadline does not fit in the {window.length:.1f} s evaluation window"
        )
    rng = random.Random(seed)
    episodes: list[Episode] = []
    for product_id in product_ids:
        for k in range(per_product):
            episodes.append(
                Episode(
                    episode_id=first_id + len(episodes),
                    product_id=product_id,
                    arrival=rng.uniform(window.start, latest),
                    size_usd=sizes_usd[k % len(sizes_usd)],
                    deadline_sec=deadline_sec,
                    seed=rng.randrange(2**31),
                )
            )
    return episodes
