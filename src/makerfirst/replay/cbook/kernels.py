"""The compiled book's kernels: numba functions over a handful of integer arrays (no Python per row).

This is their one source. A book runs them as a native extension compiled ahead of time from this
module (:mod:`makerfirst.replay.cbook.native`), or, where none can be built, as numba's JIT
functions defined here; the tests run both against the oracle.

The book's whole state lives in arrays owned by :class:`~makerfirst.replay.cbook.book.CompiledBook`,
so that a checkpoint is a copy of them and a restore a write back (their indices and codes are in
:mod:`makerfirst.replay.cbook.layout`):

* ``state`` (int64, ``N_STATE``): scalars, indexed by the ``ST_*`` constants;
* ``lv`` (int64, ``(N_LEVEL_FIELDS, 2, m)``): per side (0 = bids, 1 = asks) and per *level index*
  (the rank of the price among the tape's distinct level prices, see ``BookTape``), the fields
  ``LV_SIZE`` (displayed lots), ``LV_TAKEN`` (lots our own taker orders consumed since the level's
  last update: the matching engine shows ``size - taken``) and ``LV_OURS`` (how many of our orders
  rest there);
* ``touched_flag`` / ``touched`` (the level indices written since the last ``CLEAR``: a snapshot
  forgets only those, however far the levels span);
* ``orders`` (int64, ``(capacity, N_ORDER_FIELDS)``): our virtual resting orders, ``OR_*`` fields;
* ``fills`` (int64, ``(capacity, N_FILL_FIELDS)``): the fills of the last ``advance``, ``FL_*``.

Every rule is the conservative model of :class:`makerfirst.replay.driver.ReplayBook`, statement
by statement (the property tests compare the two event by event); times are venue nanoseconds.
ReplayBook also pairs each level's unexplained decreases with later trades (``_traded``,
``_decrease``); that only feeds its probabilistic model's split of cancels ahead/behind and changes
no fill under the conservative model, so it is not carried here. What keeps an update that
precedes its match from counting twice is each order's credit (``OR_CREDIT``), which is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numba import njit
from numba.core import caching
from numba.core.runtime.nrt import rtsys

from makerfirst.replay.cbook.layout import (
    ASKS,
    BIDS,
    CODE_BID,
    FAR,
    FL_AGGRESSOR,
    FL_HANDLE,
    FL_LOTS,
    FL_PRICE,
    FL_ROW,
    FL_TS,
    K_BBO,
    K_CLEAR,
    K_LEVEL,
    K_TRADE,
    LV_OURS,
    LV_SIZE,
    LV_TAKEN,
    N_MARKET_FIELDS,
    NO_TIME,
    OR_ACTIVE,
    OR_AHEAD,
    OR_CREDIT,
    OR_CREDIT_TS,
    OR_HANDLE,
    OR_LEVEL,
    OR_PRICE,
    OR_REMAINING,
    OR_SEQ,
    OR_SIDE,
    ST_BBO_COMPARED,
    ST_BBO_MISMATCHES,
    ST_BEST_ASK,
    ST_BEST_BID,
    ST_CURSOR,
    ST_HI,
    ST_LEVEL_UPDATES,
    ST_LO,
    ST_M,
    ST_N_BIDS,
    ST_N_FILLS,
    ST_N_TOUCHED,
    ST_NOW,
    ST_OUR_BID,
    ST_PAIRING,
    ST_RESYNC,
    ST_RESYNC_TS,
    ST_SEQ,
    ST_SHIFT,
    ST_TAKEN_ASK,
    ST_TAKEN_BID,
    ST_TRADES,
    STOP_BEST,
    STOP_END,
    STOP_FILL,
    STOP_ROWS,
    STOP_UNTIL,
)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
log = logging.getLogger(__name__)


class _KernelCache(caching.FunctionCache):
    """numba's per-function disk cache (the same files, index and keys), loading a cached kernel
    without refreshing numba's whole compiler context first.

    numba refreshes the target context before every cache load "to ensure it is initialized":
    the first load in a process imports and installs all of numba's typing and lowering registries
    (numpy, typed containers, random, linalg...), about 0.07 s of a backtest command's start, which
    only a compilation reads (and numba's compiler refreshes them itself before compiling). A
    cached kernel's machine code needs only the NRT's C helpers registered for linking, and a
    kernel compiled without the NRT (``_nrt=False``, every kernel here) not even those: the NRT is
    compiled by LLVM on its first use in a process (0.02 s), so it is left alone for them."""

    def __init__(self, py_func: Callable[..., Any], *, nrt: bool) -> None:
        super().__init__(py_func)  # type: ignore[no-untyped-call]
        self._nrt = nrt

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        guard = getattr(self, "_guard_against_spurious_io_errors", None)
        load = getattr(self, "_load_overload", None)
        if guard is None or load is None:  # a numba whose cache internals moved: its own loader
            return super().load_overload(sig, target_context)  # type: ignore[no-untyped-call]
        if self._nrt:
            rtsys.initialize(target_context)  # cached code links against the NRT's symbols
        with guard():
            return load(sig, target_context)


def _compiler(**options: Any) -> Decorator:
    """numba's ``njit`` with ``options``, typed for mypy (``_nrt`` is not in numba's stubs).

    ``cache=True`` keeps the compiled kernels on disk (beside this file, else in numba's user
    cache folder or ``$NUMBA_CACHE_DIR``), so a command starts without compiling; they are loaded
    by :class:`_KernelCache`. Where no such folder is writable numba refuses to cache; then the
    kernel compiles at its first call."""
    cache = bool(options.pop("cache", False))
    nrt = bool(options.get("_nrt", True))

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        dispatcher = njit(**options)(function)
        if cache:
            try:
                # what numba's enable_caching() sets, with this loader
                dispatcher._cache = _KernelCache(dispatcher.py_func, nrt=nrt)
            except RuntimeError:  # "cannot cache function ...: no locator available"
                log.debug("no writable numba cache folder for %s: compiled on first use", function.__name__)
        return cast(Callable[..., Any], dispatcher)

    return decorate


# The kernels allocate nothing (their callers hand them every array they write), so they run
# without numba's reference counting (``_nrt=False``): with it, every array handed from one
# compiled function to another costs atomic reference-count updates, which made a book row several
# times slower, and loading the first kernel compiles the NRT; the per-row helpers are also inlined
# into the loop at numba's IR level (``inline="always"``), which halves it again.
_kernel = _compiler(cache=True, nogil=True, _nrt=False)
_inline = _compiler(cache=True, nogil=True, _nrt=False, inline="always")


@_inline
def engine_best(state: np.ndarray, lv: np.ndarray, s: int) -> int:
    """The best level the matching engine shows on side ``s``: the displayed best, skipping levels
    our own taker orders emptied since their last update."""
    if s == BIDS:
        j = state[ST_BEST_BID]
        if state[ST_TAKEN_BID] == 0:
            return j  # type: ignore[no-any-return]
        lo = state[ST_LO]
        while j >= lo and lv[LV_SIZE, BIDS, j] - lv[LV_TAKEN, BIDS, j] <= 0:
            j -= 1
        return j if j >= lo else -1
    j = state[ST_BEST_ASK]
    if state[ST_TAKEN_ASK] == 0:
        return j  # type: ignore[no-any-return]
    hi = state[ST_HI]
    while j <= hi and lv[LV_SIZE, ASKS, j] - lv[LV_TAKEN, ASKS, j] <= 0:
        j += 1
    return j if j <= hi else state[ST_M]  # type: ignore[no-any-return]


@_inline
def _refresh_our_best(state: np.ndarray, orders: np.ndarray, s: int) -> None:
    best = -1 if s == BIDS else FAR
    for k in range(orders.shape[0]):
        if orders[k, OR_ACTIVE] == 1 and orders[k, OR_SIDE] == s:
            p = orders[k, OR_PRICE]
            best = max(best, p) if s == BIDS else min(best, p)
    state[ST_OUR_BID + s] = best


@_inline
def _deactivate(state: np.ndarray, lv: np.ndarray, orders: np.ndarray, k: int) -> None:
    s = orders[k, OR_SIDE]
    j = orders[k, OR_LEVEL]
    orders[k, OR_ACTIVE] = 0
    if j >= 0:
        lv[LV_OURS, s, j] -= 1
    state[ST_N_BIDS + s] -= 1
    _refresh_our_best(state, orders, s)


@_inline
def _end_resync(state: np.ndarray, lv: np.ndarray, orders: np.ndarray) -> None:
    """The snapshot is in: cap every queue estimate at the size now displayed at its price."""
    state[ST_RESYNC] = 0
    for k in range(orders.shape[0]):
        if orders[k, OR_ACTIVE] == 1:
            j = orders[k, OR_LEVEL]
            shown = lv[LV_SIZE, orders[k, OR_SIDE], j] if j >= 0 else 0
            orders[k, OR_AHEAD] = min(orders[k, OR_AHEAD], shown)


@_inline
def _clear(state: np.ndarray, lv: np.ndarray, touched_flag: np.ndarray, touched: np.ndarray, t: int) -> None:
    """A snapshot follows: forget the displayed book (not our orders, whose queue estimates are
    capped once the snapshot's rows are in)."""
    for n in range(state[ST_N_TOUCHED]):
        j = touched[n]
        for f in range(N_MARKET_FIELDS):
            lv[f, BIDS, j] = 0
            lv[f, ASKS, j] = 0
        touched_flag[j] = 0
    m = state[ST_M]
    state[ST_N_TOUCHED] = 0
    state[ST_LO] = m
    state[ST_HI] = -1
    state[ST_BEST_BID] = -1
    state[ST_BEST_ASK] = m
    state[ST_TAKEN_BID] = 0
    state[ST_TAKEN_ASK] = 0
    state[ST_RESYNC] = 1
    state[ST_RESYNC_TS] = t


@_inline
def _set_level(  # noqa: PLR0917 - a kernel: arrays and scalars, positional
    state: np.ndarray,
    lv: np.ndarray,
    touched_flag: np.ndarray,
    touched: np.ndarray,
    orders: np.ndarray,
    s: int,
    j: int,
    lots: int,
    t: int,
) -> None:
    """The displayed size at level ``j`` of side ``s`` is now ``lots`` (ReplayBook.set_level)."""
    state[ST_LEVEL_UPDATES] += 1
    if touched_flag[j] == 0:
        touched_flag[j] = 1
        touched[state[ST_N_TOUCHED]] = j
        state[ST_N_TOUCHED] += 1
        state[ST_LO] = min(state[ST_LO], j)
        state[ST_HI] = max(state[ST_HI], j)
    lv[LV_SIZE, s, j] = lots
    if lv[LV_TAKEN, s, j] > 0:  # the feed's update replaces what our taker order consumed
        lv[LV_TAKEN, s, j] = 0
        state[ST_TAKEN_BID + s] -= 1
    _move_best(state, lv, s, j, lots)
    if state[ST_RESYNC] == 1 or lv[LV_OURS, s, j] == 0:
        return
    pairing = state[ST_PAIRING]
    for k in range(orders.shape[0]):
        if orders[k, OR_ACTIVE] == 1 and orders[k, OR_SIDE] == s and orders[k, OR_LEVEL] == j:
            # Conservative: nobody can be ahead of us who is not displayed; what the cap moves us
            # up is credit, awaiting the trade that caused it.
            was = orders[k, OR_AHEAD]
            ahead = min(was, lots)
            moved = was - ahead
            if moved > 0:
                fresh = t - orders[k, OR_CREDIT_TS] <= pairing
                orders[k, OR_CREDIT] = (orders[k, OR_CREDIT] if fresh else 0) + moved
                orders[k, OR_CREDIT_TS] = t
            orders[k, OR_AHEAD] = ahead


@_inline
def _move_best(state: np.ndarray, lv: np.ndarray, s: int, j: int, lots: int) -> None:
    """Keep the displayed best of side ``s`` after level ``j`` became ``lots``: a level that comes
    alive can only improve it; emptying the best rescans to the next live level."""
    if s == BIDS:
        if lots > 0:
            state[ST_BEST_BID] = max(state[ST_BEST_BID], j)
        elif j == state[ST_BEST_BID]:
            lo = state[ST_LO]
            b = j - 1
            while b >= lo and lv[LV_SIZE, BIDS, b] == 0:
                b -= 1
            state[ST_BEST_BID] = b if b >= lo else -1
    elif lots > 0:
        state[ST_BEST_ASK] = min(state[ST_BEST_ASK], j)
    elif j == state[ST_BEST_ASK]:
        hi = state[ST_HI]
        a = j + 1
        while a <= hi and lv[LV_SIZE, ASKS, a] == 0:
            a += 1
        state[ST_BEST_ASK] = a if a <= hi else state[ST_M]


@_inline
def _reached_in_priority(orders: np.ndarray, scratch: np.ndarray, sp: int, price: int) -> int:
    """Write into ``scratch`` our orders on side ``sp`` that a trade at ``price`` reaches (at or
    through their limit), in priority order: best price first, then arrival; return how many."""
    n = 0
    sign = 1 if sp == ASKS else -1
    for k in range(orders.shape[0]):
        if orders[k, OR_ACTIVE] == 1 and orders[k, OR_SIDE] == sp:
            p = orders[k, OR_PRICE]
            if (sp == ASKS and p <= price) or (sp == BIDS and p >= price):
                key_p = sign * p
                key_s = orders[k, OR_SEQ]
                at = n
                while at > 0:  # insertion sort: we rarely have more than a few orders
                    prev = scratch[at - 1]
                    prev_p = sign * orders[prev, OR_PRICE]
                    if prev_p < key_p or (prev_p == key_p and orders[prev, OR_SEQ] < key_s):
                        break
                    scratch[at] = prev
                    at -= 1
                scratch[at] = k
                n += 1
    return n


@_inline
def _trade(  # noqa: PLR0917 - a kernel: arrays and scalars, positional
    state: np.ndarray,
    lv: np.ndarray,
    orders: np.ndarray,
    fills: np.ndarray,
    scratch: np.ndarray,
    row: int,
    aggressor: int,
    price: int,
    lots: int,
    t: int,
) -> None:
    """A trade of ``lots`` at ``price`` whose aggressor has stream code ``aggressor``
    (ReplayBook.trade)."""
    state[ST_TRADES] += 1
    sp = ASKS if aggressor == CODE_BID else BIDS  # the passive side
    if state[ST_N_BIDS + sp] == 0:
        return
    our_best = state[ST_OUR_BID + sp]
    if (sp == ASKS and our_best > price) or (sp == BIDS and our_best < price):
        return
    pairing = state[ST_PAIRING]
    n = _reached_in_priority(orders, scratch, sp, price)
    available = lots
    for r in range(n):
        k = scratch[r]
        remaining = orders[k, OR_REMAINING]
        if orders[k, OR_PRICE] != price:  # the trade went through our price: we were first in line
            take = min(remaining, available)
        else:
            credit_used = 0
            credit = orders[k, OR_CREDIT]
            if credit != 0 and t - orders[k, OR_CREDIT_TS] <= pairing:
                credit_used = min(lots, credit)
                orders[k, OR_CREDIT] = credit - credit_used
            ahead = orders[k, OR_AHEAD] - (lots - credit_used)
            if ahead >= 0:
                orders[k, OR_AHEAD] = ahead
                take = 0
            else:
                orders[k, OR_AHEAD] = 0
                take = min(remaining, -ahead, available)
        if take > 0:
            f = state[ST_N_FILLS]
            fills[f, FL_ROW] = row
            fills[f, FL_TS] = t
            fills[f, FL_HANDLE] = orders[k, OR_HANDLE]
            fills[f, FL_LOTS] = take
            fills[f, FL_PRICE] = orders[k, OR_PRICE]  # resting orders fill at their own limit
            fills[f, FL_AGGRESSOR] = aggressor
            state[ST_N_FILLS] = f + 1
            orders[k, OR_REMAINING] = remaining - take
            if remaining - take <= 0:
                _deactivate(state, lv, orders, k)
            available -= take


@_inline
def _check_bbo(state: np.ndarray, prices: np.ndarray, bid: int, ask: int) -> None:
    """The venue's own best bid/ask against the displayed book (0 = an empty side)."""
    state[ST_BBO_COMPARED] += 1
    b = state[ST_BEST_BID]
    a = state[ST_BEST_ASK]
    shown_bid = prices[b] if b >= 0 else 0
    shown_ask = prices[a] if a < state[ST_M] else 0
    if shown_bid != bid or shown_ask != ask:
        state[ST_BBO_MISMATCHES] += 1


@_kernel
def advance(  # noqa: PLR0917 - one flat loop; its arguments are the tape and the state
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    aux: np.ndarray,
    level: np.ndarray,
    prices: np.ndarray,
    until_ns: int,
    max_rows: int,
    stop_on_best: bool,
    state: np.ndarray,
    lv: np.ndarray,
    touched_flag: np.ndarray,
    touched: np.ndarray,
    orders: np.ndarray,
    fills: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """Apply tape rows from the cursor until one of: the next row's venue time is after
    ``until_ns``; a row filled one of our orders (applied, then stop); with ``stop_on_best``, a row
    changed the engine's best bid or ask level; ``max_rows`` rows applied; the tape ends.

    Returns the ``STOP_*`` reason; the cursor, the fills and the state are in the arrays.
    """
    n = ts.shape[0]
    i = state[ST_CURSOR]
    stop = min(n, i + max_rows)
    shift = state[ST_SHIFT]
    state[ST_N_FILLS] = 0
    bid0 = engine_best(state, lv, BIDS)
    ask0 = engine_best(state, lv, ASKS)
    reason = STOP_END if stop == n else STOP_ROWS
    while i < stop:
        t = ts[i] - shift
        if t > until_ns:
            reason = STOP_UNTIL
            break
        k = kind[i]
        if state[ST_RESYNC] == 1 and (k != K_LEVEL or t != state[ST_RESYNC_TS]):
            _end_resync(state, lv, orders)
        if k == K_LEVEL:
            s = BIDS if side[i] == CODE_BID else ASKS
            _set_level(state, lv, touched_flag, touched, orders, s, level[i], size[i], t)
        elif k == K_TRADE:
            _trade(state, lv, orders, fills, scratch, i, side[i], price[i], size[i], t)
        elif k == K_CLEAR:
            _clear(state, lv, touched_flag, touched, t)
        elif k == K_BBO and size[i] == 1:
            _check_bbo(state, prices, price[i], aux[i])
        state[ST_NOW] = t
        i += 1
        if state[ST_N_FILLS] > 0:
            reason = STOP_FILL
            break
        if stop_on_best:
            bid = engine_best(state, lv, BIDS)
            ask = engine_best(state, lv, ASKS)
            if bid != bid0 or ask != ask0:
                reason = STOP_BEST
                break
    if i == n and reason == STOP_ROWS:
        reason = STOP_END
    state[ST_CURSOR] = i
    return reason


@_kernel
def catch_up(  # noqa: PLR0912, PLR0915, PLR0917 - one flat loop over the tape, like advance()
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    aux: np.ndarray,
    level: np.ndarray,
    prices: np.ndarray,
    stop: int,
    state: np.ndarray,
    lv: np.ndarray,
    touched_flag: np.ndarray,
    touched: np.ndarray,
) -> None:
    """``advance`` to row ``stop`` (exclusive) of a book holding none of our orders and none of our
    takers' consumption (the catch-up pass to the episodes' arrivals): the same rows leave the same
    state, but the scalars live in locals for the whole loop instead of in ``state`` (which
    ``advance``'s per-row helpers must read and write through memory), and the rules that only
    concern our orders (queue caps, credits, fills, taken levels) have nothing to do and are left
    out. The caller checks the precondition; a test compares the two kernels' states."""
    n = min(stop, ts.shape[0])
    i = state[ST_CURSOR]
    state[ST_N_FILLS] = 0
    if i >= n:
        return
    shift = state[ST_SHIFT]
    m = state[ST_M]
    best_bid = state[ST_BEST_BID]
    best_ask = state[ST_BEST_ASK]
    lo = state[ST_LO]
    hi = state[ST_HI]
    resync = state[ST_RESYNC]
    resync_ts = state[ST_RESYNC_TS]
    n_touched = state[ST_N_TOUCHED]
    trades = state[ST_TRADES]
    updates = state[ST_LEVEL_UPDATES]
    compared = state[ST_BBO_COMPARED]
    mismatches = state[ST_BBO_MISMATCHES]
    t = state[ST_NOW]
    while i < n:
        t = ts[i] - shift
        k = kind[i]
        if resync == 1 and (k != K_LEVEL or t != resync_ts):
            resync = 0  # _end_resync: no queue estimates to cap
        if k == K_LEVEL:
            j = level[i]
            lots = size[i]
            updates += 1
            if touched_flag[j] == 0:
                touched_flag[j] = 1
                touched[n_touched] = j
                n_touched += 1
                lo = min(lo, j)
                hi = max(hi, j)
            if side[i] == CODE_BID:
                lv[LV_SIZE, BIDS, j] = lots
                if lots > 0:
                    best_bid = max(best_bid, j)
                elif j == best_bid:
                    b = j - 1
                    while b >= lo and lv[LV_SIZE, BIDS, b] == 0:
                        b -= 1
                    best_bid = b if b >= lo else -1
            else:
                lv[LV_SIZE, ASKS, j] = lots
                if lots > 0:
                    best_ask = min(best_ask, j)
                elif j == best_ask:
                    a = j + 1
                    while a <= hi and lv[LV_SIZE, ASKS, a] == 0:
                        a += 1
                    best_ask = a if a <= hi else m
        elif k == K_TRADE:
            trades += 1
        elif k == K_CLEAR:
            for q in range(n_touched):
                j = touched[q]
                for f in range(N_MARKET_FIELDS):
                    lv[f, BIDS, j] = 0
                    lv[f, ASKS, j] = 0
                touched_flag[j] = 0
            n_touched = 0
            lo = m
            hi = -1
            best_bid = -1
            best_ask = m
            resync = 1
            resync_ts = t
        elif k == K_BBO and size[i] == 1:
            compared += 1
            shown_bid = prices[best_bid] if best_bid >= 0 else 0
            shown_ask = prices[best_ask] if best_ask < m else 0
            if shown_bid != price[i] or shown_ask != aux[i]:
                mismatches += 1
        i += 1
    state[ST_CURSOR] = i
    state[ST_NOW] = t
    state[ST_BEST_BID] = best_bid
    state[ST_BEST_ASK] = best_ask
    state[ST_LO] = lo
    state[ST_HI] = hi
    state[ST_RESYNC] = resync
    state[ST_RESYNC_TS] = resync_ts
    state[ST_N_TOUCHED] = n_touched
    state[ST_TRADES] = trades
    state[ST_LEVEL_UPDATES] = updates
    state[ST_BBO_COMPARED] = compared
    state[ST_BBO_MISMATCHES] = mismatches


@_kernel
def submit(  # noqa: PLR0917 - a kernel: arrays and scalars, positional
    state: np.ndarray,
    lv: np.ndarray,
    orders: np.ndarray,
    prices: np.ndarray,
    matches: np.ndarray,
    s: int,
    price: int,
    has_price: bool,
    j: int,
    lots: int,
    rest: bool,
    handle: int,
) -> int:
    """Our order arrives (ReplayBook.submit): what crosses takes the engine's levels, best first, down
    to its limit; what is left rests (if ``rest``) as a virtual order behind the displayed size at
    its price (level ``j``, -1 if no level row has that price). Writes (price, lots) per level taken
    into ``matches``; returns how many. ``orders`` must have a free row when ``rest``."""
    opp = ASKS if s == BIDS else BIDS
    n_matches = 0
    remaining = lots
    crosses = True
    if has_price:
        b = engine_best(state, lv, opp)
        if b < 0 or b >= state[ST_M]:  # nothing on the other side
            crosses = False
        else:
            best = int(prices[b])
            crosses = price >= best if s == BIDS else price <= best
    if crosses:
        while remaining > 0:
            b = engine_best(state, lv, opp)
            if b < 0 or b >= state[ST_M]:
                break
            p = prices[b]
            if has_price and (p > price if s == BIDS else p < price):
                break
            shown = lv[LV_SIZE, opp, b] - lv[LV_TAKEN, opp, b]
            take = min(remaining, shown)
            if lv[LV_TAKEN, opp, b] == 0:
                state[ST_TAKEN_BID + opp] += 1
            lv[LV_TAKEN, opp, b] += take
            matches[n_matches, 0] = p
            matches[n_matches, 1] = take
            n_matches += 1
            remaining -= take
    if rest and remaining > 0 and has_price:
        k = 0
        while orders[k, OR_ACTIVE] == 1:
            k += 1
        orders[k, OR_ACTIVE] = 1
        orders[k, OR_SIDE] = s
        orders[k, OR_PRICE] = price
        orders[k, OR_LEVEL] = j
        orders[k, OR_REMAINING] = remaining
        orders[k, OR_AHEAD] = lv[LV_SIZE, s, j] if j >= 0 else 0
        orders[k, OR_SEQ] = state[ST_SEQ]
        orders[k, OR_CREDIT] = 0
        orders[k, OR_CREDIT_TS] = NO_TIME
        orders[k, OR_HANDLE] = handle
        state[ST_SEQ] += 1
        if j >= 0:
            lv[LV_OURS, s, j] += 1
        state[ST_N_BIDS + s] += 1
        _refresh_our_best(state, orders, s)
    return n_matches


@_kernel
def cancel(state: np.ndarray, lv: np.ndarray, orders: np.ndarray, handle: int) -> int:
    """Remove our resting order ``handle``; its remaining lots, or -1 if it was not resting."""
    for k in range(orders.shape[0]):
        if orders[k, OR_ACTIVE] == 1 and orders[k, OR_HANDLE] == handle:
            remaining = orders[k, OR_REMAINING]
            _deactivate(state, lv, orders, k)
            return remaining  # type: ignore[no-any-return]
    return -1


@_kernel
def engine_levels(state: np.ndarray, lv: np.ndarray, prices: np.ndarray, s: int, out: np.ndarray) -> int:
    """Write up to ``len(out)`` (price, lots) rows the matching engine shows on side ``s``, best
    first, into ``out``; return how many."""
    depth = out.shape[0]
    n = 0
    j = engine_best(state, lv, s)
    step = -1 if s == BIDS else 1
    lo = state[ST_LO]
    hi = state[ST_HI]
    while n < depth and lo <= j <= hi:
        shown = lv[LV_SIZE, s, j] - lv[LV_TAKEN, s, j]
        if shown > 0:
            out[n, 0] = prices[j]
            out[n, 1] = shown
            n += 1
        j += step
    return n


@_kernel
def advance_sampled(  # noqa: PLR0917 - one flat loop; its arguments are the tape and the state
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
    aux: np.ndarray,
    level: np.ndarray,
    prices: np.ndarray,
    stops: np.ndarray,
    bids_out: np.ndarray,
    asks_out: np.ndarray,
    state: np.ndarray,
    lv: np.ndarray,
    touched_flag: np.ndarray,
    touched: np.ndarray,
    orders: np.ndarray,
    fills: np.ndarray,
    scratch: np.ndarray,
) -> int:
    """For each ``k``: apply the rows before row ``stops[k]`` (``advance``), then write the price of
    the best bid and ask the matching engine shows (-1: none) to ``bids_out[k]``/``asks_out[k]``,
    as a sampler of the touch at a grid of times would. Stops after a row that fills one of our
    orders, before sampling; returns how many samples it wrote (the fills are in ``fills``)."""
    state[ST_N_FILLS] = 0
    m = state[ST_M]
    for k in range(stops.shape[0]):
        rows = stops[k] - state[ST_CURSOR]
        if rows > 0:
            advance(
                ts, kind, side, price, size, aux, level, prices, FAR, rows, False,
                state, lv, touched_flag, touched, orders, fills, scratch,
            )  # fmt: skip
            if state[ST_N_FILLS] > 0:
                return k
        b = engine_best(state, lv, BIDS)
        a = engine_best(state, lv, ASKS)
        bids_out[k] = prices[b] if b >= 0 else -1
        asks_out[k] = prices[a] if a < m else -1
    return stops.shape[0]  # type: ignore[no-any-return]


@_kernel
def first_row_meeting(  # noqa: PLR0917 - a kernel: arrays and scalars, positional
    kind: np.ndarray,
    side: np.ndarray,
    level: np.ndarray,
    size: np.ndarray,
    start: int,
    stop: int,
    live_bids: np.ndarray,
    live_asks: np.ndarray,
    ask_below: int,
    bid_above: int,
) -> int:
    """Looking ahead without touching the book: the first row in ``start:stop`` after which the
    book shows an ask at a level index below ``ask_below`` or a bid at one above ``bid_above``;
    -1 if none does (or if one is shown already: only a change into the condition is an event).

    ``live_bids``/``live_asks`` (int8, 1 = the level shows size) start as the book the matching
    engine shows now and are overwritten (scratch). Only CLEAR and LEVEL rows move the displayed
    book, so trades and BBO rows are passed over; a snapshot empties it (its rows refill it)."""
    m = live_bids.shape[0]
    asks = 0
    for j in range(min(ask_below, m)):
        asks += live_asks[j]
    bids = 0
    for j in range(max(bid_above + 1, 0), m):
        bids += live_bids[j]
    if asks > 0 or bids > 0:
        return -1
    for i in range(start, stop):
        k = kind[i]
        if k == K_CLEAR:
            live_bids[:] = 0
            live_asks[:] = 0
            asks = 0
            bids = 0
        elif k == K_LEVEL:
            j = level[i]
            now = 1 if size[i] > 0 else 0
            if side[i] == CODE_BID:
                if j > bid_above:
                    bids += now - live_bids[j]
                live_bids[j] = now
            else:
                if j < ask_below:
                    asks += now - live_asks[j]
                live_asks[j] = now
            if asks > 0 or bids > 0:
                return i
    return -1
