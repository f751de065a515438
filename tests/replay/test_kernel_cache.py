"""The compiled book's kernels load from numba's disk cache without numba's whole compiler context."""

from __future__ import annotations

import subprocess
import sys
import textwrap

LOAD_THEN_COMPILE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from numba import njit
    from makerfirst.replay.cbook import kernels as kn

    state = kn.new_state(10, 1, 0)
    hits = sum(kn.new_state.stats.cache_hits.values())
    # numba's registries (numpy's linear algebra among them) are what a full refresh imports
    print(hits, "numba.np.linalg" in sys.modules, int(state[kn.ST_BEST_ASK]))

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


def test_a_cached_kernel_loads_without_installing_numbas_registries_and_compiling_still_works() -> None:
    run_fresh()  # fills the cache if this checkout never compiled the kernels
    loaded, compiled, _ = run_fresh()
    assert loaded == "1 False 10"  # from the cache, no registry imported; the book has no ask (m = 10)
    assert compiled == "[2.0, 4.0, 6.0]"
