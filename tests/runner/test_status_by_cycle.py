"""`status` shows the holdings of the last cycle by its id, whatever clock the cycles ran on."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from makerfirst.domain.records import CycleRecord, HoldingSnapshot
from makerfirst.persistence.store import SqlStore


def cycle(index: int, started_at: float) -> CycleRecord:
    return CycleRecord(index, started_at, started_at + 60, 60.0, 0.2, 8, 0.2, 0, 0)


def holding(asset: str, size: str) -> HoldingSnapshot:
    return HoldingSnapshot(
        asset, Decimal(size), Decimal(1), Decimal(size), "T1", None, Decimal(0), None, None
    )


def test_two_runs_on_the_same_virtual_times_show_only_the_last_cycles_rows(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'status.db'}")
    # Two --fast runs of one cycle each: same index, same virtual start time.
    store.record_cycle(cycle(0, 1_700_000_000.0), [holding("ETH", "0.5"), holding("BTC", "0.005")])
    store.record_cycle(cycle(0, 1_700_000_000.0), [holding("ETH", "0.2764284")])
    assert store.latest_holdings() == [holding("ETH", "0.2764284")]


def test_a_cycle_that_measured_nothing_leaves_the_last_measurement_shown(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'status.db'}")
    store.record_cycle(cycle(0, 1_000.0), [holding("ETH", "0.5")])
    store.record_cycle(cycle(1, 1_060.0))  # skipped: the venue failed past its retries
    assert store.latest_holdings() == [holding("ETH", "0.5")]
    assert len(store.cycles()) == 2
