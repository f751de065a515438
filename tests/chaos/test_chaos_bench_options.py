"""The chaos bench's options and its target check: an example names the run that found it,
``--only`` reruns one run, ``--jobs`` changes nothing in the table, a rebalance gets lives until
it has settled, and a bot that forgets to buy is still a target miss."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chaos_bench import chaos_check, chaos_inprocess, chaos_processes

from makerfirst.portfolio import decide


def test_an_example_in_the_merged_table_names_the_run_that_found_it() -> None:
    one = chaos_check.Counts(runs=1)
    one.add("lost_fills", "trade t-1 of order o-1")
    one.runs_hit["lost_fills"] = 1
    total = chaos_check.Counts()
    total.merge(chaos_check.Counts(runs=1))
    total.merge(one.labelled("run 7 (purge)"))
    assert total.examples["lost_fills"] == ["run 7 (purge): trade t-1 of order o-1"]
    assert (total.runs, total.counts["lost_fills"], total.runs_hit["lost_fills"]) == (2, 1, 1)


def test_only_runs_the_named_runs_and_the_title_says_which(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chaos  # noqa: PLC0415 - bench/chaos.py, on the path through chaos_bench

    asked: dict[str, Any] = {}

    def run_many(seed: int, runs: int, **options: Any) -> chaos_check.Counts:
        asked.update(options, seed=seed, runs=runs)
        return chaos_check.Counts(runs=len(options["only"]))

    monkeypatch.setattr(chaos_inprocess, "run_many", run_many)
    assert chaos.main(["--runs", "50", "--seed", "1", "--only", "47", "--jobs", "1"]) == 0
    assert (asked["seed"], asked["runs"], asked["only"], asked["jobs"]) == (1, 50, [47], 1)
    assert "chaos bench: run 47 of 50, seed 1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        chaos.main(["--runs", "50", "--only", "50"])  # beyond the schedule
    assert "--only takes run indices from 0 to 49" in capsys.readouterr().err


def test_the_table_is_the_same_whatever_the_number_of_jobs() -> None:
    runs = [0, 1, 5]
    alone = chaos_inprocess.run_many(seed=7, runs=6, only=runs, jobs=1)
    shared = chaos_inprocess.run_many(seed=7, runs=6, only=runs, jobs=2)
    assert (shared.runs, shared.counts, shared.runs_hit) == (alone.runs, alone.counts, alone.runs_hit)


def test_a_bot_that_forgets_to_buy_is_a_target_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run 14 of seed 1: one life, BTC at ~17 % of the portfolio against its 40 % target, USD to
    # spare. The rebalance planner with its buys dropped: the sells go ahead, no buy ever does.
    scenario = chaos_inprocess.draw_scenario(1, 14)
    assert scenario.kind == "rebalance" and len(scenario.lives) == 1
    plan_rebalance = decide.plan_rebalance

    def forgetful(*args: Any, **kwargs: Any) -> Any:
        return replace(plan_rebalance(*args, **kwargs), buys=())

    monkeypatch.setattr(decide, "plan_rebalance", forgetful)
    chaos_inprocess.quiet_logs()
    counts = chaos_inprocess.run_one(1, 14, tmp_path)
    assert counts.counts["target_misses"] >= 1
    assert any("BTC" in example for example in counts.examples["target_misses"])


def miss() -> chaos_check.Counts:
    found = chaos_check.Counts()
    found.add("target_misses", "BTC: 4.1 % against 40 % ± 10.0")
    return found


def test_a_rebalance_gets_more_lives_until_it_has_settled_and_no_more() -> None:
    lives: list[int] = []
    outcomes = iter([miss(), miss(), chaos_check.Counts()])
    found = chaos_processes.settle(lives.append, lambda: next(outcomes), 6)
    assert lives == [1, 2, 3] and found.total == 0


def test_a_rebalance_still_off_target_after_every_life_is_a_miss() -> None:
    lives: list[int] = []
    found = chaos_processes.settle(lives.append, miss, 4)
    assert lives == [1, 2, 3, 4]
    assert found.counts["target_misses"] == 1 and found.examples["target_misses"] == [
        "BTC: 4.1 % against 40 % ± 10.0"
    ]
