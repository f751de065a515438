"""`glft` and `tob` in the backtest: named like the references, glft given the plan's fill curves
(measured on the fitted market, never on an episode's seed), paired with the design note."""

from __future__ import annotations

from dataclasses import replace

import pytest

from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.backtest import BacktestConfig, Mode, plan_backtest, run_backtest
from makerfirst.replay.glft_fit import by_product_json, curves_json, with_plan_curves
from makerfirst.replay.policies import (
    REFERENCE_POLICIES,
    SELL_POLICIES,
    PolicyKind,
    make_policy,
    parse_policies,
)
from makerfirst.replay.sweep import grid_points, parse_grid, run_sweep


def test_tob_and_glft_are_chosen_by_name_and_not_in_the_default_set() -> None:
    specs = parse_policies("design_note,tob,glft")
    assert [s.kind for s in specs] == [PolicyKind.DESIGN_NOTE, PolicyKind.TOP_OF_BOOK, PolicyKind.GLFT]
    assert "glft" not in REFERENCE_POLICIES and "tob" not in REFERENCE_POLICIES
    with pytest.raises(MakerfirstError, match="glft: no fill curves"):
        make_policy(specs[2])


def test_glft_runs_paired_with_the_design_note_on_the_plans_curves() -> None:
    config = BacktestConfig(data="synthetic:thin", policies=parse_policies("design_note,glft"), episodes=3)
    plan = plan_backtest(config)
    config = replace(config, policies=with_plan_curves(config.policies, plan, config))
    glft = config.policies[1]
    [curve] = glft.curves
    assert curve.fills > 0 and curve.product_id == plan.episodes[0][1].product_id
    result = run_backtest(config, plan=plan)
    [ours] = [m for m in result.metrics if m.policy == "glft"]
    assert ours.mode == Mode.SYNTHETIC.value and ours.vs_reference is not None
    assert ours.vs_reference.reference == "design_note"
    assert curves_json(config.policies)["fill_curves"] == [curve.as_json()]
    [(product, rows)] = by_product_json(result, config).items()
    assert product == curve.product_id and [r["policy"] for r in rows] == ["design_note", "glft"]
    assert all(r.completed for r in result.results)


def test_gamma_is_swept_as_a_policy_key() -> None:
    config = BacktestConfig(data="synthetic:thin", policies=(), episodes=3)
    grid = parse_grid(["portfolio_management.purge_execution.glft.gamma=0.05,20"])
    points = list(with_plan_curves(grid_points(SELL_POLICIES["glft"], grid), plan_backtest(config), config))
    assert [p.name for p in points] == ["glft[gamma=0.05]", "glft[gamma=20]"]
    result = run_sweep(config, points, workers=1)
    by_point = {p.name: [r for r in result.results if r.policy == p.name] for p in points}
    patient, averse = by_point["glft[gamma=0.05]"], by_point["glft[gamma=20]"]
    assert len(patient) == len(averse) == 3
    # The same episodes, different quotes: the knob reaches the policy.
    assert [r.episode_id for r in patient] == [r.episode_id for r in averse]
    assert [r.is_bps for r in patient] != [r.is_bps for r in averse]
