"""A state database per test: a real SQLite file, and PostgreSQL when MAKERFIRST_TEST_PG_URL is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'makerfirst.db'}"
    url = os.environ.get("MAKERFIRST_TEST_PG_URL")
    if not url:
        pytest.skip("MAKERFIRST_TEST_PG_URL is not set (CI sets it)")
    engine = create_engine(url)
    with engine.begin() as conn:  # a clean schema per test
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url
