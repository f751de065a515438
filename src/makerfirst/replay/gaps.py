"""Feed gaps in a capture: where a product's book was re-read from a fresh snapshot.

A feed sends one snapshot per product on subscribe; another one later means the recorder lost
messages and resynchronised (``makerfirst record`` writes nothing of a product between the gap and
its fresh snapshot). The book is right again after it, but an episode that spans it ran on a market
with a hole in it: the backtest drops such episodes (:func:`spans_a_gap`).
"""

from __future__ import annotations

import bisect

from makerfirst.replay.distinct import distinct
from makerfirst.replay.episodes import Episode
from makerfirst.replay.events import CLEAR, EventStream


def resync_times(stream: EventStream, product_index: int) -> list[float]:
    """Epoch seconds of every snapshot (``CLEAR``) of the product after its first, ascending."""
    ev = stream.events
    clears = ev["ts_ns"][(ev["product"] == product_index) & (ev["kind"] == CLEAR)]
    return [float(t) / 1e9 for t in distinct(clears)[1:]]


def spans_a_gap(episode: Episode, resyncs: list[float]) -> bool:
    """True when a resync falls inside ``[arrival, arrival + run_sec]``."""
    first = bisect.bisect_left(resyncs, episode.arrival)
    return first < len(resyncs) and resyncs[first] <= episode.arrival + episode.run_sec
