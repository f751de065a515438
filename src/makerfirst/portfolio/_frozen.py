"""Read-only mappings for frozen dataclasses: a frozen dataclass holding a caller's dict is not frozen."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def frozen_map(mapping: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only copy of ``mapping``: later changes to the caller's dict do not leak in."""
    return MappingProxyType(dict(mapping))
