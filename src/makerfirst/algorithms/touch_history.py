"""The touches a sell loop has seen, and the fair price they give (pure: no I/O).

A thin book flickers: a taker sweeps the bids, the touch falls several spreads for a few seconds
and comes back. A quote re-priced from the book of that moment sells at the bottom of the dip.
The loop records every book it reads (its decisions and its checks while an order rests); the
fair price is the time-weighted median of the mid (and of the spread) over a recent window, so a
dip shorter than half the window does not move it, while a fall that lasts does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from makerfirst.domain.book import OrderBook

KEPT_SEC = 600.0  # samples older than this are dropped: no fair price looks further back


@dataclass(frozen=True, slots=True)
class FairTouch:
    """The fair mid and spread over a window (quote units), from ``samples`` books."""

    mid: Decimal
    spread: Decimal
    samples: int

    @property
    def bid(self) -> Decimal:
        return self.mid - self.spread / 2

    @property
    def ask(self) -> Decimal:
        return self.mid + self.spread / 2


class TouchHistory:
    """The best bid and ask of every book recorded, with the loop's time it was read at."""

    def __init__(self, kept_sec: float = KEPT_SEC) -> None:
        self._kept_sec = kept_sec
        self._samples: deque[tuple[float, Decimal, Decimal]] = deque()  # (time, mid, spread)

    def __len__(self) -> int:
        return len(self._samples)

    def record(self, now: float, book: OrderBook) -> None:
        """Keep ``book``'s touch as seen at ``now`` (a one-sided book is not a touch: skipped)."""
        if not book.bids or not book.asks:
            return
        if self._samples and now < self._samples[-1][0]:
            raise ValueError(f"touch history: time went back from {self._samples[-1][0]} to {now}")
        self._samples.append((now, book.mid, book.best_ask - book.best_bid))
        # Keep the newest sample older than the window too: it held until the next one.
        while len(self._samples) > 1 and self._samples[1][0] < now - self._kept_sec:
            self._samples.popleft()

    def fair(self, now: float, window_sec: float) -> FairTouch | None:
        """The time-weighted medians of the mid and the spread over ``(now - window_sec, now]``,
        each sample holding until the next one (the last until ``now``); None when nothing was
        recorded. A window with a single sample in it (or none after an older one) gives that
        sample's touch."""
        if not self._samples:
            return None
        start = now - window_sec
        mids: list[tuple[Decimal, float]] = []
        spreads: list[tuple[Decimal, float]] = []
        times = [t for t, _, _ in self._samples]
        for i, (t, mid, spread) in enumerate(self._samples):
            end = times[i + 1] if i + 1 < len(times) else now
            weight = min(end, now) - max(t, start)
            if weight > 0:
                mids.append((mid, weight))
                spreads.append((spread, weight))
        if not mids:  # every sample at ``now`` (or the window empty): the latest touch
            _, mid, spread = self._samples[-1]
            return FairTouch(mid, spread, 1)
        return FairTouch(_weighted_median(mids), _weighted_median(spreads), len(mids))


def _weighted_median(values: list[tuple[Decimal, float]]) -> Decimal:
    """The lower weighted median: the smallest value with at least half the weight at or below it."""
    ranked = sorted(values)
    half = sum(weight for _, weight in ranked) / 2
    running = 0.0
    for value, weight in ranked:
        running += weight
        if running >= half:
            return value
    return ranked[-1][0]
