"""The typed, strict policy: ``config/policy.yaml`` loaded into frozen pydantic models.

``load_policy()`` reads the copy shipped in the package; ``load_policy(path, overrides)``
reads a file and applies ``--set dotted.key=value`` overrides. Anything wrong raises
:class:`PolicyError` with one readable problem per line.
"""

from makerfirst.policy.loader import PolicyError, default_policy_path, load_policy, parse_overrides
from makerfirst.policy.models import (
    ExecutionPolicy,
    GuardsPolicy,
    Policy,
    PortfolioManagementPolicy,
    PurgeExecutionPolicy,
)

__all__ = [
    "ExecutionPolicy",
    "GuardsPolicy",
    "Policy",
    "PolicyError",
    "PortfolioManagementPolicy",
    "PurgeExecutionPolicy",
    "default_policy_path",
    "load_policy",
    "parse_overrides",
]
