"""Episodes: what every policy is judged on, the same for all of them (a paired design).

An episode is (product, arrival time, size, deadline, horizon). Sizes are in USD (converted to
base at the arrival mid); the deadline is seconds after arrival, shown to the policy, when anything
unsold is charged as a forced taker sale; the horizon is how long the market lasts after the
arrival (a replay: the rest of the capture; a synthetic market: for ever).

**Seeds and sizes depend on (seed, mode, product, index) only** (:func:`episode_seed`), never on
which other products are in the run, so ``--product`` or ``--quote-usd`` filters leave every
remaining episode as it was.

**Replay episodes of one product never overlap and are spread over the capture**
(:func:`replay_episodes`): the capture is cut into equal slots no shorter than the deadline, one
episode arriving at the start of each, so no episode sees the market another episode's orders
were in, and the episodes are close to independent (what the bootstrap over episodes assumes).
A capture shorter than the deadline holds one episode whose horizon is the whole capture: if its
policy is still working when the data ends, the episode is *censored* (``backtest.py``).

**Synthetic episodes** (:func:`synthetic_episodes`) each run on their own market seeded by the
episode, so they are independent by construction and never end before their deadline.

**Calibration vs evaluation.** ``calibrated`` markets are fitted on the first ``calibration_share``
of a capture only (``calibrate.py``); their episodes run on the fitted synthetic market.
"""

from __future__ import annotations

import hashlib
import math
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
    a replay, seconds after the warm-up for a synthetic market. ``index`` counts the episodes of
    one (mode, product); ``seed`` seeds the venue (every policy sees the same one).
    ``horizon_sec``: seconds of market after the arrival (``math.inf`` for a synthetic market)."""

    episode_id: int
    product_id: str
    index: int
    arrival: float
    size_usd: Decimal
    deadline_sec: float
    horizon_sec: float
    seed: int

    @property
    def run_sec(self) -> float:
        """How long the episode can run: to its deadline, or to the end of the data if sooner."""
        return min(self.deadline_sec, self.horizon_sec)


def episode_seed(seed: int, mode: str, product_id: str, index: int) -> int:
    """The seed of episode ``index`` of ``product_id`` in ``mode``: from nothing else, so it is
    stable under filters."""
    digest = hashlib.blake2b(f"{seed}|{mode}|{product_id}|{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 2**31


def _size(seed: int, mode: str, product_id: str, index: int, sizes_usd: Sequence[Decimal]) -> Decimal:
    """Sizes cycle through ``sizes_usd`` from a per-product offset, so products with one episode
    each still cover every size."""
    offset = episode_seed(seed, mode, product_id, -1) % len(sizes_usd)
    return sizes_usd[(offset + index) % len(sizes_usd)]


def split_window(span: Window, calibration_share: float) -> tuple[Window, Window]:
    """(calibration, evaluation): the first ``calibration_share`` of ``span``, then the rest."""
    if not 0 < calibration_share < 1:
        raise MakerfirstError(f"calibration share must be between 0 and 1, got {calibration_share}")
    split = span.start + span.length * calibration_share
    return Window(span.start, split), Window(split, span.end)


def replay_episodes(
    product_id: str,
    *,
    wanted: int,
    window: Window,
    deadline_sec: float,
    seed: int,
    mode: str,
    sizes_usd: Sequence[Decimal] = DEFAULT_SIZES_USD,
) -> list[Episode]:
    """Up to ``wanted`` non-overlapping episodes of ``product_id`` spread over ``window``: as many
    slots of at least ``deadline_sec`` as fit (at least one), an episode at the start of each, its
    horizon the rest of the window. ``episode_id`` is the index; the plan renumbers."""
    if deadline_sec <= 0:
        raise MakerfirstError(f"the deadline must be positive, got {deadline_sec} s")
    if window.length <= 0:
        raise MakerfirstError(f"{product_id}: the capture holds no time to replay")
    count = max(1, min(wanted, math.floor(window.length / deadline_sec)))
    slot = window.length / count
    episodes = []
    for k in range(count):
        arrival = window.start + k * slot
        episodes.append(
            Episode(
                episode_id=k,
                product_id=product_id,
                index=k,
                arrival=arrival,
                size_usd=_size(seed, mode, product_id, k, sizes_usd),
                deadline_sec=deadline_sec,
                horizon_sec=window.end - arrival,
                seed=episode_seed(seed, mode, product_id, k),
            )
        )
    return episodes


def synthetic_episodes(
    product_id: str,
    *,
    count: int,
    arrival: float,
    deadline_sec: float,
    seed: int,
    mode: str,
    sizes_usd: Sequence[Decimal] = DEFAULT_SIZES_USD,
) -> list[Episode]:
    """``count`` episodes of ``product_id``, each on its own synthetic market (its seed)."""
    if deadline_sec <= 0:
        raise MakerfirstError(f"the deadline must be positive, got {deadline_sec} s")
    return [
        Episode(
            episode_id=k,
            product_id=product_id,
            index=k,
            arrival=arrival,
            size_usd=_size(seed, mode, product_id, k, sizes_usd),
            deadline_sec=deadline_sec,
            horizon_sec=math.inf,
            seed=episode_seed(seed, mode, product_id, k),
        )
        for k in range(count)
    ]
