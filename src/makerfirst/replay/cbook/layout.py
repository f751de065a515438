"""The compiled book's array layout: the indices of its state scalars, level fields, order and
fill fields, and the codes its kernels read, in plain Python and numpy.

Shared by the kernels (:mod:`makerfirst.replay.cbook.kernels`, which numba compiles with these
values frozen in) and :class:`~makerfirst.replay.cbook.book.CompiledBook`, which reads the arrays;
kept apart so that a book built on the kernels compiled ahead of time (:mod:`.native`) never
imports numba.
"""

from __future__ import annotations

import numpy as np

# Tape kinds and side codes: the EventStream's (events.py), repeated as literals numba freezes.
K_CLEAR, K_LEVEL, K_TRADE, K_BBO = 0, 1, 2, 3
CODE_BID = 1  # BID / BUY; ASK / SELL is -1
BIDS, ASKS = 0, 1  # side index into lv

NO_TIME = -(1 << 62)  # "never": older than any pairing window, and no overflow on subtraction
FAR = 1 << 62  # an until_ns that never stops

# state
ST_CURSOR = 0  # the next tape row
ST_BEST_BID = 1  # displayed best bid level, -1 = none
ST_BEST_ASK = 2  # displayed best ask level, m = none
ST_LO = 3  # lowest level index written since the last CLEAR (m = none): bounds best-price rescans
ST_HI = 4  # highest (-1 = none)
ST_RESYNC = 5  # 1 while a snapshot's rows are arriving (ReplayBook._resync_time is not None)
ST_RESYNC_TS = 6
ST_N_TOUCHED = 7
ST_TAKEN_BID = 8  # levels a side has with LV_TAKEN > 0 (0: the engine shows the displayed book)
ST_TAKEN_ASK = 9
ST_SEQ = 10  # next queue sequence number for our resting orders
ST_TRADES = 11
ST_LEVEL_UPDATES = 12
ST_BBO_COMPARED = 13
ST_BBO_MISMATCHES = 14
ST_N_FILLS = 15
ST_NOW = 16  # venue time of the last row applied
ST_M = 17  # number of level indices
ST_PAIRING = 18  # pairing window, ns
ST_SHIFT = 19  # feed latency, ns: a row applies at ts - shift
ST_N_BIDS = 20  # our resting orders per side
ST_N_ASKS = 21
ST_OUR_BID = 22  # our highest resting bid price (ticks), -1 = none
ST_OUR_ASK = 23  # our lowest resting ask price, FAR = none
N_STATE = 24

LV_SIZE, LV_TAKEN, LV_OURS = 0, 1, 2
N_LEVEL_FIELDS = 3
N_MARKET_FIELDS = 2  # the fields a CLEAR forgets (LV_OURS is about our orders, not the market)

OR_ACTIVE, OR_SIDE, OR_PRICE, OR_LEVEL, OR_REMAINING, OR_AHEAD, OR_SEQ, OR_CREDIT, OR_CREDIT_TS = range(9)
OR_HANDLE = 9
N_ORDER_FIELDS = 10

FL_ROW, FL_TS, FL_HANDLE, FL_LOTS, FL_PRICE, FL_AGGRESSOR = range(6)
N_FILL_FIELDS = 6

# why advance() returned
STOP_END, STOP_UNTIL, STOP_FILL, STOP_BEST, STOP_ROWS = 0, 1, 2, 3, 4


def new_state(m: int, pairing_ns: int, shift_ns: int) -> np.ndarray:
    """A book's ``state`` before any row: empty sides, no orders (plain numpy: no kernel to load)."""
    state = np.zeros(N_STATE, np.int64)
    state[ST_BEST_BID] = -1
    state[ST_BEST_ASK] = m
    state[ST_LO] = m
    state[ST_HI] = -1
    state[ST_M] = m
    state[ST_PAIRING] = pairing_ns
    state[ST_SHIFT] = shift_ns
    state[ST_OUR_BID] = -1
    state[ST_OUR_ASK] = FAR
    return state
