"""Parameter sweeps: one policy's overrides over a grid, every point judged on the same episodes.

A grid is ``dotted.key=v1,v2,...`` entries (policy keys, as ``--set`` takes them); the sweep runs
their Cartesian product. Work is cut into tasks of (point, a chunk of episodes) that carry only
picklable data: each worker rebuilds the plan from the ``BacktestConfig`` (the readers' cache makes
that cheap) and keeps it for its later tasks. Tasks run on local worker processes
(``concurrent.futures.ProcessPoolExecutor``) or on a Ray cluster (``ray_address``); results are
identical either way, because every episode is seeded.
"""

from __future__ import annotations

import importlib
import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import (
    BacktestConfig,
    BacktestPlan,
    plan_backtest,
    run_episode,
    summarize_results,
)
from makerfirst.replay.metrics import EpisodeResult, PolicyMetrics
from makerfirst.replay.policies import PolicySpec


@dataclass(frozen=True, slots=True)
class SweepTask:
    """One grid point on a chunk of the plan's episodes (indices into ``plan.episodes``)."""

    config: BacktestConfig
    spec: PolicySpec
    episodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SweepResult:
    points: tuple[PolicySpec, ...]
    metrics: tuple[PolicyMetrics, ...]
    results: tuple[EpisodeResult, ...]
    backend: str


def parse_grid(entries: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``["a.b=1,2", "c=x"]`` → ``[("a.b", ["1", "2"]), ("c", ["x"])]``."""
    grid: list[tuple[str, list[str]]] = []
    for entry in entries:
        key, equals, values = entry.partition("=")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not equals or not key.strip() or not options:
            raise MakerfirstError(f"--grid expects dotted.key=v1,v2,..., got {entry!r}")
        grid.append((key.strip(), options))
    return grid


def grid_points(base: PolicySpec, grid: Sequence[tuple[str, list[str]]]) -> list[PolicySpec]:
    """``base`` with each combination of the grid's values, named after the values that vary."""
    if not grid:
        return [base]
    points: list[PolicySpec] = []
    for combo in itertools.product(*(values for _, values in grid)):
        settings = tuple(f"{key}={value}" for (key, _), value in zip(grid, combo, strict=True))
        label = ",".join(
            f"{key.rsplit('.', 1)[-1]}={value}" for (key, _), value in zip(grid, combo, strict=True)
        )
        points.append(base.with_overrides(settings, name=f"{base.name}[{label}]"))
    return points


_PLANS: dict[BacktestConfig, BacktestPlan] = {}


def _plan(config: BacktestConfig) -> BacktestPlan:
    """The plan of ``config``, built once per process (policies play no part in a plan)."""
    key = replace(config, policies=())
    if key not in _PLANS:
        _PLANS[key] = plan_backtest(key)
    return _PLANS[key]


def run_task(task: SweepTask) -> list[EpisodeResult]:
    """Run one task (in whichever process or Ray worker it lands)."""
    # A worker has no log configuration of its own: keep the engine's transcript out of its stderr.
    logging.getLogger("makerfirst").addHandler(logging.NullHandler())
    plan = _plan(task.config)
    results = []
    for index in task.episodes:
        mode, episode = plan.episodes[index]
        result, _ = run_episode(
            plan.venues[mode, episode.product_id], task.spec, episode, task.config.options, mode
        )
        results.append(result)
    return results


def make_tasks(config: BacktestConfig, points: Sequence[PolicySpec], chunk: int) -> list[SweepTask]:
    count = len(_plan(config).episodes)
    chunks = [tuple(range(i, min(i + chunk, count))) for i in range(0, count, max(1, chunk))]
    return [SweepTask(config, spec, episodes) for spec in points for episodes in chunks]


def run_sweep(
    config: BacktestConfig,
    points: Sequence[PolicySpec],
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    chunk: int = 8,
    on_task_done: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run every point on every episode of ``config``'s plan; summarize per point and mode.

    ``workers``: local processes (default: the CPU count; ``1`` runs in this process).
    ``ray_address``: run on Ray instead (``auto``: a running cluster, else a local one; or an address).
    ``on_task_done(done, total)`` reports progress.
    """
    tasks = make_tasks(config, points, chunk)
    if ray_address is not None:
        results, backend = _run_on_ray(tasks, ray_address, workers, on_task_done), f"ray:{ray_address}"
    elif workers == 1:
        results, backend = _run_inline(tasks, on_task_done), "inline"
    else:
        results, backend = _run_local(tasks, workers, on_task_done), f"processes:{workers or 'auto'}"
    ordered = sorted(results, key=lambda r: (r.policy, r.mode, r.episode_id))
    # Every point against the first, paired on the same episodes.
    metrics = summarize_results(
        ordered, [p.name for p in points], seed=config.seed, reference=points[0].name if points else ""
    )
    return SweepResult(tuple(points), metrics, tuple(ordered), backend)


def _run_inline(tasks: list[SweepTask], progress: Callable[[int, int], None] | None) -> list[EpisodeResult]:
    results: list[EpisodeResult] = []
    for done, task in enumerate(tasks, start=1):
        results += run_task(task)
        if progress is not None:
            progress(done, len(tasks))
    return results


def _run_local(
    tasks: list[SweepTask], workers: int | None, progress: Callable[[int, int], None] | None
) -> list[EpisodeResult]:
    results: list[EpisodeResult] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_task, task) for task in tasks]
        for done, future in enumerate(as_completed(futures), start=1):
            results += future.result()
            if progress is not None:
                progress(done, len(tasks))
    return results


def _run_on_ray(
    tasks: list[SweepTask], address: str, workers: int | None, progress: Callable[[int, int], None] | None
) -> list[EpisodeResult]:
    try:
        # Optional, and loaded by name so type checks pass where it is not installed.
        ray: Any = importlib.import_module("ray")
    except ImportError:
        raise MakerfirstError("--ray needs the ray package: pip install ray") from None
    if not ray.is_initialized():
        _start_ray(ray, address, workers)
    remote: Any = ray.remote(run_task)
    pending = [remote.remote(task) for task in tasks]
    results: list[EpisodeResult] = []
    done = 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            results += ray.get(ref)
            done += 1
            if progress is not None:
                progress(done, len(tasks))
    return results


def _start_ray(ray: Any, address: str, workers: int | None) -> None:
    """Connect to ``address``; ``auto`` falls back to a local Ray when no cluster is running."""
    if address != "auto":
        ray.init(address=address)
        return
    try:
        ray.init(address="auto")
    except ConnectionError:
        ray.init(num_cpus=workers)
