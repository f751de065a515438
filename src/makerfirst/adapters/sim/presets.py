"""Market presets: ``liquid``, ``thin`` and ``dead``.

``thin`` is measured on the real Coinbase capture ``shared/data/coinbase-thin-2021-04-17/ws-feed.txt``
(SKL-USD, the busiest USD book in it, 30.7 s; numbers from rebuilding its book, which matched all
69 tickers; the table is in ``docs/thin-capture-stats.txt``). One 31-second window is an
order-of-magnitude starting point, not a calibration: the replay work fits these properly.
"""

from __future__ import annotations

from makerfirst.adapters.sim.market import MarketParams

THIN = MarketParams(
    name="thin",
    # SKL-USD median spread 12.65 bps (p90 18.95) → makers quote ~6.3 bps either side of fair.
    half_spread_bps=6.3,
    # SKL-USD: 40 bid / 67 ask levels within 1 % of mid → one level every ~2.5 bps.
    levels=40,
    level_spacing_bps=2.5,
    # SKL-USD: median best level $356 bid / $2,083 ask; top 10 levels $24k bid / $37k ask.
    level_depth_usd=1_200.0,
    depth_growth=1.15,
    # SKL-USD taker orders (fills of one taker summed): 16 buys, 24 sells in 30.7 s.
    taker_buy_per_sec=0.52,
    taker_sell_per_sec=0.78,
    # SKL-USD taker order median $79.8, max $20,299. The Hill tail index measured 0.46 on only
    # 40 orders (too noisy, and below 1 the mean is infinite): we take a heavy but finite 1.1 and
    # cap at the largest order seen.
    taker_median_usd=80.0,
    taker_tail_alpha=1.1,
    taker_max_usd=20_000.0,
    # SKL-USD mid volatility 3.62 bps per sqrt(second), spread bounce included.
    vol_per_sqrt_sec=0.000362,
    # SKL-USD: ~15 book changes/s at the touch, ~49/s in the top 10 levels; one refresh here
    # re-lays every level that was eaten, so a few per second reproduce that churn.
    refresh_per_sec=5.0,
)

DEAD = MarketParams(
    name="dead",
    # The thin book's shape, with nobody buying: the market a purge has to get out of.
    half_spread_bps=THIN.half_spread_bps,
    levels=THIN.levels,
    level_spacing_bps=THIN.level_spacing_bps,
    level_depth_usd=THIN.level_depth_usd,
    depth_growth=THIN.depth_growth,
    taker_buy_per_sec=0.0,  # no taker buys at all: a resting sell never fills
    # NMR-EUR, the quietest seller in the capture: 1 taker sell in 30.6 s, of $22.8 (its median
    # fill); small sellers, capped at $2,000: some $100k a day, an illiquid (T3) volume.
    taker_sell_per_sec=0.033,
    taker_median_usd=20.0,
    taker_tail_alpha=THIN.taker_tail_alpha,
    taker_max_usd=2_000.0,
    vol_per_sqrt_sec=0.0,  # a mid that does not move cannot walk through a resting sell either
    refresh_per_sec=1.0,
)

LIQUID = MarketParams(
    name="liquid",
    # A BTC-USD-like book (not from the thin capture): a spread of a few ticks, deep levels,
    # several takers a second each way, ~0.85 bps/sqrt(s) volatility (≈ 2.5 % a day).
    half_spread_bps=0.005,
    levels=50,
    level_spacing_bps=0.05,
    level_depth_usd=40_000.0,
    depth_growth=1.05,
    taker_buy_per_sec=4.0,
    taker_sell_per_sec=4.0,
    taker_median_usd=300.0,
    taker_tail_alpha=1.3,
    taker_max_usd=200_000.0,
    vol_per_sqrt_sec=0.000085,
    refresh_per_sec=4.0,
)

PRESETS: dict[str, MarketParams] = {p.name: p for p in (LIQUID, THIN, DEAD)}
