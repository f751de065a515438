"""``--policies`` variants: ``NAME[KEY=VALUE;...]`` is that policy with overrides, so two settings
of one policy are compared paired with the design note in a single backtest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from makerfirst.domain.errors import MakerfirstError
from makerfirst.replay.policies import PolicyKind, parse_policies, resolve_policy

GAMMA = "portfolio_management.purge_execution.glft.gamma"


def test_a_variant_is_its_policy_with_the_overrides_and_named_as_written() -> None:
    plain, variant = parse_policies(f"glft,glft[{GAMMA}=2]")
    assert variant.name == f"glft[{GAMMA}=2]"
    assert variant.kind is PolicyKind.GLFT
    assert variant.overrides == (*plain.overrides, f"{GAMMA}=2")
    assert resolve_policy(variant.overrides).portfolio_management.purge_execution.glft.gamma == 2
    assert resolve_policy(plain.overrides).portfolio_management.purge_execution.glft.gamma != 2


def test_several_overrides_are_separated_by_semicolons() -> None:
    (variant,) = parse_policies(
        "design_note[portfolio_management.purge_execution.maker_first_ttl_sec=10;"
        " portfolio_management.purge_execution.maker_retry_ttl_sec=8]"
    )
    purge = resolve_policy(variant.overrides).portfolio_management.purge_execution
    assert (purge.maker_first_ttl_sec, purge.maker_retry_ttl_sec) == (10, 8)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("glft[gamma]", "write a variant as NAME[KEY=VALUE;KEY=VALUE]"),
        (f"glft[{GAMMA}=2", "write a variant as NAME[KEY=VALUE;KEY=VALUE]"),
        (f"glft[{GAMMA}=-1]", GAMMA),
        (f"nope[{GAMMA}=1]", "unknown policies"),
    ],
)
def test_a_bad_variant_is_refused_before_any_episode_runs(written: str, says: str) -> None:
    with pytest.raises(MakerfirstError, match=says.replace("[", r"\[")):
        parse_policies(written)


def test_a_variant_keeps_its_policys_own_overrides() -> None:
    (variant,) = parse_policies("fixed_ttl[portfolio_management.purge_execution.max_slices=7]")
    purge = resolve_policy(variant.overrides, Decimal(1)).portfolio_management.purge_execution
    assert purge.maker_first_ttl_sec == 6  # fixed_ttl's own TTL stays
    assert purge.max_slices == 7  # the variant's override comes after fixed_ttl's own
