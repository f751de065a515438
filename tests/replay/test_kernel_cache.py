"""Where the compiled book runs on numba's JIT kernels (no native extension could be built), they load
from numba's disk cache without numba's whole compiler context."""

from __future__ import annotations

import subprocess
import sys
import textwrap

LOAD_THEN_COMPILE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from numba import njit
    from numba.core.runtime.nrt import rtsys
    from makerfirst.replay.cbook import kernels as kn
    from makerfirst.replay.cbook import layout

    state = layout.new_state(10, 1, 0)
    lv = np.zeros((layout.N_LEVEL_FIELDS, 2, 10), np.int64)
    prices, out = np.arange(10, dtype=np.int64), np.empty((5, 2), np.int64)
    shown = kn.engine_levels(state, lv, prices, layout.ASKS, out)
    hits = sum(kn.engine_levels.stats.cache_hits.values())
    # numba's registries (numpy's linear algebra among them) are what a full refresh imports; the
    # NRT (compiled by LLVM on its first use) and numba's array lowering no kernel here needs
    light = not ({"numba.np.linalg", "numba.np.arrayobj"} & set(sys.modules)) and not rtsys._init
    print(hits, light, shown)

    @njit
    def running(a):  # a compilation after the light load still finds numba's numpy and list registries
        return [x * 2.0 for x in np.cumsum(a)]

    print(running(np.ones(3)))
    """
)


def run_fresh() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_THEN_COMPILE], capture_output=True, text=True, check=True, timeout=300
    )
    return done.stdout.split("\n")


def test_a_cached_kernel_loads_without_numbas_registries_or_its_nrt_and_compiling_still_works() -> None:
    run_fresh()  # fills the cache if this checkout never compiled the kernels
    loaded, compiled, _ = run_fresh()
    assert loaded == "1 True 0"  # from the cache, nothing heavy imported or compiled; an empty book
    assert compiled == "[2.0, 4.0, 6.0]"
