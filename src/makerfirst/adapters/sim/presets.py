"""Market presets: ``liquid``, ``thin`` and ``dead``, each a fitted :class:`MarketParams`.

Every number below was printed by the command in its ``source`` (``makerfirst market fit``, the
fit of ``replay/calibrate.py`` on a whole capture; its docstring says where each number comes
from). Sizes are in units of ``touch_quote``, so the shape carries over to any product a preset
drives; ``touch_quote`` is in the capture's quote currency, read as USD by paper runs.

* ``thin``: SKL-USD, the busiest book of the shared Coinbase capture
  (``../shared/data/coinbase-thin-2021-04-17/``), 30.7 s, pooled with the capture's other books
  where SKL-USD alone is thin. Hawkes branching 0.4, decay 30.0/s (log-likelihood +23.4 vs Poisson).
* ``dead``: the same book with no taker buys at all, idle makers and rare small sellers: a resting
  sell never fills.
* ``liquid``: Binance BTCUSDT (``../shared/data/binance-btcusdt-2024-08-08/``), 346 s. Notes of
  the fit: Hawkes branching 0.4, decay 30.0/s (log-likelihood +1442.8 vs Poisson).
"""

from __future__ import annotations

from dataclasses import replace

from makerfirst.adapters.sim.market import MarketParams

THIN = MarketParams(
    name="thin",
    source=(
        "makerfirst market fit --data ../shared/data/coinbase-thin-2021-04-17/ws-feed.txt"
        " --product SKL-USD (30.7 s)"
    ),
    touch_quote=805.55475,
    median_spread_bps=13.9038,
    add_per_sec=(1.599493, 1.491959, 2.431654, 1.165633, 1.307169),
    cancel_per_sec=(2.24134, 2.377929, 3.10268, 2.526803, 2.545531),
    cancel_spread_factor=(0.774812, 1.127206, 1.114527, 0.500664, 1.0),
    cancel_frac_q=(0.015719, 0.278966, 0.524776, 0.69652, 0.963597, 1.0, 1.0, 1.0, 1.0),
    add_size_q=(0.016678, 0.35092, 0.44159, 0.441744, 0.441981, 0.999242, 1.024915, 2.586104, 29.244561),
    improve_per_sec=(2.687421, 2.125485, 2.497251, 2.367432),
    improve_spread_q=(
        0.090978,
        0.363999,
        0.454977,
        0.602229,
        0.817872,
        0.909666,
        1.09022,
        1.182192,
        1.545357,
    ),
    gap_bps_q=(1.262706, 1.263184, 1.263584, 1.264063, 1.264862, 2.525412, 3.790032, 6.320313, 20.241635),
    touch_gap_bps_q=(
        1.262706,
        1.263184,
        1.263504,
        1.263983,
        1.264223,
        1.265022,
        2.526369,
        3.792188,
        10.124019,
    ),
    deep_size_q=(0.004921, 0.004923, 0.069479, 1.041625, 2.022493, 2.586828, 6.184727, 8.107664, 32.233187),
    deep_churn_per_sec=12.39279,
    remove_behind_per_sec=(
        1.172511,
        0.944523,
        0.895668,
        0.66768,
        0.439692,
        0.390837,
        0.195419,
        0.179134,
        0.016285,
    ),
    levels=10,
    fair_jumps_per_sec=0.2,
    fair_jump_bps_q=(
        -14.540859,
        -11.689418,
        -6.323211,
        -3.319709,
        -3.15846,
        0.948047,
        2.843814,
        5.054973,
        14.536264,
    ),
    taker_buy_per_sec=0.521116,
    taker_sell_per_sec=0.911953,
    hawkes_branching=0.4,
    hawkes_decay_per_sec=30.0,
    taker_size_q=(0.000196, 0.016682, 0.017655, 0.019081, 0.099095, 0.305565, 0.441464, 1.001308, 25.198782),
)

# The thin book's shape with nobody buying and its makers gone quiet: no maker re-quotes, the
# fair price stands still, and the only takers are rare small sellers: NMR-EUR's, the quietest
# seller of the same capture (1 taker sell in 30.6 s, of 22.8 EUR: 0.028 of this touch). What a
# purge has to get out of: a resting sell never fills, because no taker ever buys.
DEAD = replace(
    THIN.without_buyers("dead", "the thin preset with no taker buys and idle makers (see above)"),
    add_per_sec=(0.0,) * 5,
    cancel_per_sec=(0.0,) * 5,
    improve_per_sec=(0.0,) * 4,
    deep_churn_per_sec=0.0,
    remove_behind_per_sec=(0.0,) * len(THIN.remove_behind_per_sec),
    fair_jumps_per_sec=0.0,
    taker_sell_per_sec=0.0327,
    taker_size_q=(0.028,),
    hawkes_branching=0.0,
)

LIQUID = MarketParams(
    name="liquid",
    source=(
        "makerfirst market fit --data ../shared/data/binance-btcusdt-2024-08-08/btcusdt_20240808.gz"
        " --product BTCUSDT (346 s)"
    ),
    touch_quote=127587.693695,
    median_spread_bps=0.0016,
    add_per_sec=(3.513382, 3.095643, 2.795303, 2.99677, 2.823664),
    cancel_per_sec=(6.797959, 1.681487, 1.389338, 1.315119, 2.844658),
    cancel_spread_factor=(0.710475, 1.0, 1.0, 1.47866, 35.187263),
    cancel_frac_q=(3e-06, 0.019196, 0.141447, 0.435456, 0.994273, 1.0, 1.0, 1.0, 1.0),
    add_size_q=(5e-06, 0.000635, 0.011679, 0.028194, 0.061633, 0.137183, 0.20807, 0.457193, 4.061964),
    improve_per_sec=(55.038235, 55.038235, 65.038235, 52.96162),
    improve_spread_q=(
        0.997973,
        0.998474,
        0.99951,
        1.00002,
        1.000396,
        1.000983,
        16.998777,
        379.853235,
        4616.234994,
    ),
    gap_bps_q=(0.001617, 0.00162, 0.003235, 0.012953, 0.029109, 0.055111, 0.089535, 0.153648, 1.22077),
    touch_gap_bps_q=(0.001617, 0.001619, 0.00162, 0.003241, 0.006484, 0.026131, 0.069564, 0.174664, 3.136865),
    deep_size_q=(4.3e-05, 8.2e-05, 0.000489, 0.018867, 0.031334, 0.043462, 0.078483, 0.156704, 4.604334),
    deep_churn_per_sec=11.502948,
    remove_behind_per_sec=(
        1.029165,
        0.862938,
        0.826801,
        0.867274,
        0.793556,
        0.690929,
        0.641783,
        0.60131,
        0.578183,
    ),
    levels=10,
    fair_jumps_per_sec=0.151417,
    fair_jump_bps_q=(
        -10.311164,
        -2.239559,
        -1.49568,
        -0.854503,
        -0.3623,
        0.008717,
        0.927204,
        2.058356,
        6.650717,
    ),
    taker_buy_per_sec=4.252535,
    taker_sell_per_sec=4.145571,
    hawkes_branching=0.4,
    hawkes_decay_per_sec=30.0,
    taker_size_q=(2.4e-05, 0.000101, 0.000193, 0.0006, 0.002033, 0.005123, 0.009692, 0.043549, 6.638214),
)

PRESETS: dict[str, MarketParams] = {p.name: p for p in (LIQUID, THIN, DEAD)}
