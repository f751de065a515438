"""A fast replay kernel: rebuild one product's book and track ONE resting post-only sell in its queue.

Units: prices in ticks, sizes in lots, times in ns (integers only; see ``events``).

The queue model is the conservative one (hftbacktest's RiskAverse, design note §2):

* placement: the order joins at the first row stamped at or after ``placed_ns`` (or after the last
  row), behind the displayed ask size at its price (``queue_ahead_at_entry_lots``). It is rejected
  (post-only) if the rebuilt best bid is at or above its price, and not placed if the product has no
  book yet (no ``CLEAR`` seen);
* size added at our level joins behind us; a decrease is a cancel from behind us, so it never
  advances us, except that the quantity ahead can never exceed the level's displayed size (a level
  that shrinks below it must have lost orders ahead of us: ahead = min(ahead, new size));
* a ``CLEAR`` (a new snapshot) while we rest leaves ahead unchanged; the snapshot's own LEVEL row
  at our price caps it like any other;
* a BUY-aggressor trade AT our price first consumes the quantity ahead; what is left of it fills
  us (capped by our remaining size): partial fills are possible;
* a BUY-aggressor trade ABOVE our price (through it) fills all that remains: the level was swept;
* nothing else fills us: a touch, or a bid rising to our price, without such a trade never does;
  SELL-aggressor trades never fill a resting sell.

The book itself (both sides, best bid/ask) is maintained for every row of the product, in dense
arrays indexed by tick offset; when the product's prices span more than ``DENSE_LEVELS_MAX`` ticks,
the dense window is centred on our price and the few levels outside it are indexed by rank (a
binary search for those rows only). The compiled kernel uses numba when it is importable and a pure-Python
run of the same code otherwise (correct, about 100x slower).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from makerfirst.replay.events import EVENT_DTYPE

DENSE_LEVELS_MAX = 1 << 22  # ticks in the dense window: 4 M levels a side, 64 MiB for both sides

_CLEAR, _LEVEL, _TRADE = 0, 1, 2
_BID, _BUY = 1, 1


class Outcome(IntEnum):
    RESTING = 0  # placed, and not wholly filled when the stream ended
    FILLED = 1
    REJECTED_WOULD_CROSS = 2  # post-only: the best bid was at or above our price at placement
    NO_BOOK = 3  # the product had no book at placement time


@dataclass(frozen=True, slots=True)
class RestingSellResult:
    """The fate of one resting sell.

    ``events_processed``: rows consumed (all of them, unless ``stop_when_done`` ended early);
    ``first_fill_ns``/``filled_ns``: receive time of the first fill and of the fill that completed
    the order (None if none); ``final_best_*_ticks``: the rebuilt book's best prices after the last
    row consumed (None for an empty side); lots and ticks as integers.
    """

    events_processed: int
    outcome: Outcome
    queue_ahead_at_entry_lots: int
    filled_lots: int
    first_fill_ns: int | None
    filled_ns: int | None
    final_best_bid_ticks: int | None = None
    final_best_ask_ticks: int | None = None


def _kernel(  # noqa: PLR0912, PLR0915, PLR0917 - one flat loop for numba; its arguments are the columns
    ts: np.ndarray,
    product: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    target: int,
    window_lo: int,
    window: int,
    below: np.ndarray,
    above: np.ndarray,
    our_price: int,
    our_size: int,
    placed_ns: int,
    stop_when_done: bool,
) -> tuple[int, int, int, int, int, int, int, int]:
    """The loop; compiled by numba when available.

    Returns the ``RestingSellResult`` fields (-1 = None), the last two as level indices (-1: no bid,
    the level count: no ask).

    Level index, monotonic in price: the sorted outlier prices ``below`` the dense window first (by
    rank), then the window ``[window_lo, window_lo + window)`` (by offset), then those ``above``.
    ``our_price`` must lie in the window.
    """
    n = ts.shape[0]
    n_below = below.shape[0]
    n_levels = n_below + window + above.shape[0]
    bid_sz = np.zeros(n_levels, np.int64)
    ask_sz = np.zeros(n_levels, np.int64)
    our_j = n_below + our_price - window_lo
    best_bid = -1  # level index, -1 = empty side
    best_ask = n_levels  # n_levels = empty side
    touched_lo = n_levels  # the index range written since the last CLEAR bounds the best-price rescans
    touched_hi = -1
    live = np.empty(1 << 12, np.int64)  # indices that went from empty to non-empty since the last CLEAR
    n_live = 0
    have_book = False
    placed = False
    active = False
    outcome = 0
    ahead = 0
    ahead_at_entry = 0
    remaining = our_size
    first_fill = -1
    done_at = -1
    processed = n
    for i in range(n + 1):
        if not placed and (i == n or ts[i] >= placed_ns):
            placed = True
            if not have_book:
                outcome = 3
            elif best_bid >= our_j:
                outcome = 2
            else:
                active = True
                ahead = ask_sz[our_j]
                ahead_at_entry = ahead
            if not active and stop_when_done:
                processed = i
                break
        if i == n:
            break
        if product[i] != target:
            continue
        k = kind[i]
        if k == _LEVEL:
            p = price[i]
            if window_lo <= p < window_lo + window:
                j = n_below + p - window_lo
            elif p < window_lo:
                j = np.searchsorted(below, p)
            else:
                j = n_below + window + np.searchsorted(above, p)
            s = size[i]
            touched_lo = min(touched_lo, j)
            touched_hi = max(touched_hi, j)
            if s > 0 and bid_sz[j] == 0 and ask_sz[j] == 0:  # a level comes alive: remember it
                if n_live == live.shape[0]:
                    grown = np.empty(2 * n_live, np.int64)
                    grown[:n_live] = live
                    live = grown
                live[n_live] = j
                n_live += 1
            if side[i] == _BID:
                bid_sz[j] = s
                if s > 0:
                    best_bid = max(j, best_bid)
                elif j == best_bid:
                    while best_bid >= touched_lo and bid_sz[best_bid] == 0:
                        best_bid -= 1
                    if best_bid < touched_lo:
                        best_bid = -1
            else:
                ask_sz[j] = s
                if s > 0:
                    best_ask = min(j, best_ask)
                elif j == best_ask:
                    while best_ask <= touched_hi and ask_sz[best_ask] == 0:
                        best_ask += 1
                    if best_ask > touched_hi:
                        best_ask = n_levels
                if active and j == our_j and s < ahead:
                    ahead = s
        elif k == _TRADE:
            if active and side[i] == _BUY and price[i] >= our_price:
                if price[i] > our_price:
                    fill = remaining
                else:
                    q = size[i]
                    if q <= ahead:
                        ahead -= q
                        fill = 0
                    else:
                        fill = min(remaining, q - ahead)
                        ahead = 0
                if fill > 0:
                    remaining -= fill
                    if first_fill < 0:
                        first_fill = ts[i]
                    if remaining == 0:
                        active = False
                        outcome = 1
                        done_at = ts[i]
                        if stop_when_done:
                            processed = i + 1
                            break
        elif k == _CLEAR:
            for t in range(n_live):  # cheaper than zeroing the touched range: it can span millions
                bid_sz[live[t]] = 0
                ask_sz[live[t]] = 0
            n_live = 0
            touched_lo, touched_hi = n_levels, -1
            best_bid, best_ask = -1, n_levels
            have_book = True
    return processed, outcome, ahead_at_entry, our_size - remaining, first_fill, done_at, best_bid, best_ask


def _price_range(product: np.ndarray, kind: np.ndarray, price: np.ndarray, target: int) -> tuple[int, int]:
    """(min, max) price of the product's LEVEL rows; (0, -1) if there are none."""
    lo, hi = 0, -1
    for i in range(product.shape[0]):
        if product[i] == target and kind[i] == _LEVEL:
            p = price[i]
            if hi < lo:
                lo = hi = p
            else:
                lo = min(lo, p)
                hi = max(hi, p)
    return lo, hi


def _outliers(  # noqa: PLR0917 - a numba kernel: columns and scalars, positional
    product: np.ndarray, kind: np.ndarray, price: np.ndarray, target: int, window_lo: int, window: int
) -> np.ndarray:
    """The distinct prices of the product's LEVEL rows outside the window, sorted."""
    count = 0
    for i in range(product.shape[0]):
        if product[i] == target and kind[i] == _LEVEL and not window_lo <= price[i] < window_lo + window:
            count += 1
    out = np.empty(count, np.int64)
    count = 0
    for i in range(product.shape[0]):
        if product[i] == target and kind[i] == _LEVEL and not window_lo <= price[i] < window_lo + window:
            out[count] = price[i]
            count += 1
    return np.unique(out)


@dataclass(frozen=True, slots=True)
class _Kernels:
    kernel: Callable[..., Any]
    price_range: Callable[..., Any]
    outliers: Callable[..., Any]


_PLAIN = _Kernels(_kernel, _price_range, _outliers)


@functools.cache
def _compiled() -> _Kernels:
    """The kernels compiled by numba, or the plain functions if numba is absent."""
    try:
        from numba import njit  # noqa: PLC0415 - numba is optional and slow to import
    except ImportError:  # pragma: no cover - the environment without numba
        return _PLAIN
    jit = njit(cache=True, nogil=True)
    return _Kernels(jit(_kernel), jit(_price_range), jit(_outliers))


def level_layout(
    events: np.ndarray,
    product: int,
    price_ticks: int,
    *,
    dense_levels_max: int = DENSE_LEVELS_MAX,
    compiled: bool = True,
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(window_lo, window, below, above): how the kernel indexes ``product``'s price levels.

    A dense window of ``window`` ticks from ``window_lo`` holding ``price_ticks``, and the sorted
    distinct LEVEL prices below and above it (empty unless the prices span > ``dense_levels_max``).
    """
    kernels = _compiled() if compiled else _PLAIN
    product_col, kind_col, price_col = events["product"], events["kind"], events["price"]
    lo, hi = kernels.price_range(product_col, kind_col, price_col, product)
    lo, hi = (min(lo, price_ticks), max(hi, price_ticks)) if hi >= lo else (price_ticks, price_ticks)
    window_lo, window = int(lo), int(hi - lo + 1)
    below = above = np.empty(0, np.int64)
    if window > dense_levels_max:  # a dense window around our price; the far levels by rank
        window = dense_levels_max
        window_lo = max(int(lo), min(price_ticks - window // 2, int(hi) - window + 1))
        far = kernels.outliers(product_col, kind_col, price_col, product, window_lo, window)
        split = int(np.searchsorted(far, window_lo))
        below, above = far[:split], far[split:]
    return window_lo, window, below, above


def replay_resting_sell(
    events: np.ndarray,
    *,
    product: int,
    price_ticks: int,
    size_lots: int,
    placed_ns: int,
    stop_when_done: bool = False,
    dense_levels_max: int = DENSE_LEVELS_MAX,
    compiled: bool = True,
) -> RestingSellResult:
    """Replay ``events`` (``EVENT_DTYPE``, time-ordered) with one post-only sell resting on ``product``.

    ``price_ticks``/``size_lots`` are the order's price and size; it joins the queue at ``placed_ns``.
    ``stop_when_done`` returns as soon as the order is filled, rejected or unplaceable (otherwise the
    whole stream is replayed, as a strategy would). ``dense_levels_max`` bounds the dense window
    (tests shrink it to exercise the far levels). ``compiled=False`` runs the plain Python loop.
    Times must be >= 0 (epoch ns).
    """
    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"events must be of EVENT_DTYPE, got {events.dtype}")
    if size_lots <= 0:
        raise ValueError(f"size_lots must be positive, got {size_lots}")
    kernels = _compiled() if compiled else _PLAIN
    columns = (events["ts_ns"], events["product"], events["kind"], events["side"], events["price"])
    window_lo, window, below, above = level_layout(
        events, product, price_ticks, dense_levels_max=dense_levels_max, compiled=compiled
    )
    processed, outcome, ahead, filled, first_fill, done_at, bid_j, ask_j = kernels.kernel(
        *columns,
        events["size"],
        product,
        window_lo,
        window,
        below,
        above,
        price_ticks,
        size_lots,
        placed_ns,
        stop_when_done,
    )
    return RestingSellResult(
        events_processed=int(processed),
        outcome=Outcome(int(outcome)),
        queue_ahead_at_entry_lots=int(ahead),
        filled_lots=int(filled),
        first_fill_ns=None if first_fill < 0 else int(first_fill),
        filled_ns=None if done_at < 0 else int(done_at),
        final_best_bid_ticks=_level_price(int(bid_j), window_lo, window, below, above),
        final_best_ask_ticks=_level_price(int(ask_j), window_lo, window, below, above),
    )


def _level_price(j: int, window_lo: int, window: int, below: np.ndarray, above: np.ndarray) -> int | None:
    """The price of level index ``j`` (see ``_kernel``); None for an empty side's sentinel."""
    if j < 0 or j >= len(below) + window + len(above):
        return None
    if j < len(below):
        return int(below[j])
    if j < len(below) + window:
        return window_lo + j - len(below)
    return int(above[j - len(below) - window])
