"""The composition root: one Settings builds the whole application, which owns the venue's life."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from makerfirst import bootstrap
from makerfirst.bootstrap import App, PaperVenue, Settings, build_app
from makerfirst.clock import VirtualClock
from makerfirst.domain.errors import MakerfirstError, PolicyError

HELD = {"PENGU": Decimal(1116), "ZK": Decimal(400), "USD": Decimal(100)}


def paper_settings(tmp_path: Path, *overrides: str) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'app.db'}",
        venue=PaperVenue(fast=True, market="dead", seed=1, balances=HELD),
        policy_overrides=("purge=[PENGU, ZK]", *overrides),
    )


def test_a_paper_app_runs_its_cycles_and_keeps_the_venue_when_the_run_ends(tmp_path: Path) -> None:
    app = build_app(paper_settings(tmp_path))
    try:
        assert isinstance(app.clock, VirtualClock)  # fast: the venue and the runner share one virtual clock
        summary = asyncio.run(app.run(cycles=2, cycle_sec=60))
        kept = app.store.load_document(bootstrap.PAPER_WORLD)
    finally:
        app.close()
    assert len(summary.cycles) == 2
    assert all(c.requests > 0 for c in summary.cycles)  # every collaborator is metered by the runner
    assert kept is not None and json.loads(kept)  # released at the end of run: the world was saved
    again = build_app(paper_settings(tmp_path))
    try:
        assert any("continuing the simulated venue" in n for n in again.notices)
        assert len(again.store.cycles()) == 2
    finally:
        again.close()


def test_closing_an_app_that_never_ran_still_releases_its_venue(tmp_path: Path) -> None:
    app = build_app(paper_settings(tmp_path))
    app.close()
    reopened = bootstrap.open_store(paper_settings(tmp_path).db)
    try:
        assert reopened.load_document(bootstrap.PAPER_WORLD) is not None
    finally:
        reopened.close()


class FailingRunner:
    async def run(self, cycles: int | None, cycle_sec: float) -> None:
        raise MakerfirstError("the venue went away")


def test_the_venue_is_released_when_the_run_fails(tmp_path: Path) -> None:
    released: list[str] = []

    async def release() -> None:
        released.append("venue closed")

    store = bootstrap.open_store(f"sqlite:///{tmp_path / 'failing.db'}")
    app = App(Settings(), store, VirtualClock(), runner=FailingRunner(), _release=release)  # type: ignore[arg-type]
    with pytest.raises(MakerfirstError, match="went away"):
        asyncio.run(app.run(cycles=1, cycle_sec=60))
    app.close()
    assert released == ["venue closed"]  # once: close() after run() does not close it again


def test_an_app_over_the_database_alone_has_no_runner(tmp_path: Path) -> None:
    first = build_app(paper_settings(tmp_path))
    asyncio.run(first.run(cycles=1, cycle_sec=60))
    first.close()
    reader = build_app(Settings(db=paper_settings(tmp_path).db))
    try:
        assert reader.venue is None and reader.runner is None
        assert len(reader.store.cycles()) == 1
        with pytest.raises(MakerfirstError, match="without a venue"):
            asyncio.run(reader.run(cycles=1, cycle_sec=60))
    finally:
        reader.close()


def test_a_bad_policy_fails_before_anything_is_built(tmp_path: Path) -> None:
    settings = paper_settings(tmp_path, "portfolio_management.purge_execution.maker_first_ttl_sec=-1")
    with pytest.raises(PolicyError, match="maker_first_ttl_sec"):
        build_app(settings)
    assert not (tmp_path / "app.db").exists()  # the store is opened only after the policy is valid
