"""The persistence tests' database: the suite's ``store_url`` (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import pytest


@pytest.fixture
def db_url(store_url: str) -> str:
    return store_url
