"""The LMS service clients against the demo LMS: one database is enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import migrated_database


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite only: what these tests add over tests/core and tests/workers is not SQL (a test
    that needs PostgreSQL parametrizes `database_url` with "postgres" itself)."""
    return migrated_database(request, tmp_path)
