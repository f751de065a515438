"""Sweeps: grid points, local worker processes, and Ray (when installed) agree episode for episode."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.util import find_spec

import pytest

from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import BacktestConfig
from makerfirst.replay.policies import REFERENCE_POLICIES, PolicySpec
from makerfirst.replay.sweep import grid_points, parse_grid, run_sweep

_PURGE = "portfolio_management.purge_execution"
CONFIG = BacktestConfig(data="synthetic:dead", policies=(), episodes=3, deadline_sec=60.0)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="makerfirst")  # restored after the test


def points() -> list[PolicySpec]:
    grid = parse_grid([f"{_PURGE}.maker_first_ttl_sec=5,25", f"{_PURGE}.allow_taker_fallback=true,false"])
    return grid_points(REFERENCE_POLICIES["design_note"], grid)


def test_a_grid_is_the_cartesian_product_of_its_values() -> None:
    names = [p.name for p in points()]
    assert names == [
        "design_note[maker_first_ttl_sec=5,allow_taker_fallback=true]",
        "design_note[maker_first_ttl_sec=5,allow_taker_fallback=false]",
        "design_note[maker_first_ttl_sec=25,allow_taker_fallback=true]",
        "design_note[maker_first_ttl_sec=25,allow_taker_fallback=false]",
    ]
    assert points()[1].overrides[-1] == f"{_PURGE}.allow_taker_fallback=false"
    with pytest.raises(MakerfirstError):
        parse_grid(["no-values="])


def test_local_processes_match_an_inline_run() -> None:
    inline = run_sweep(CONFIG, points(), workers=1, chunk=2)
    local = run_sweep(CONFIG, points(), workers=2, chunk=2)
    assert local.backend == "processes:2"
    assert local.results == inline.results and local.metrics == inline.metrics
    done = {m.policy: m.completion_rate.value for m in local.metrics}
    # Without the taker fallback a dead market never completes; with it, always (ladder fits in 60 s).
    assert done["design_note[maker_first_ttl_sec=5,allow_taker_fallback=false]"] == 0.0
    assert done["design_note[maker_first_ttl_sec=5,allow_taker_fallback=true]"] == 1.0
    assert done["design_note[maker_first_ttl_sec=25,allow_taker_fallback=true]"] == 1.0


@pytest.fixture
def local_ray() -> Iterator[None]:
    if find_spec("ray") is None:
        pytest.skip("ray is not installed")
    import ray  # noqa: PLC0415

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_a_sweep_on_a_local_ray_matches_the_local_run(local_ray: None) -> None:
    inline = run_sweep(CONFIG, points()[:2], workers=1, chunk=3)
    on_ray = run_sweep(CONFIG, points()[:2], ray_address="auto", chunk=3)
    assert on_ray.backend == "ray:auto"
    assert on_ray.results == inline.results
