"""Shared fixtures: real Redis and PostgreSQL servers started on free ports, fresh migrated
databases (SQLite and PostgreSQL), and an app built from the factory per test. The LTI world,
seeded courses, learners and admins come from tests/support (pytest_plugins below)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.core.db import Database
from lti_tool.core.db.migrate import upgrade
from lti_tool.devkit.embedded import PostgresServer, RedisServer
from lti_tool.settings import Settings, load_settings
from lti_tool.web.app import create_app

# Fixtures shared across the suite, defined with the helpers they belong to (tests/support).
pytest_plugins = [
    "tests.support.lti_world",
    "tests.support.course",
    "tests.support.engines",
    "tests.support.learner",
    "tests.support.admin",
    "tests.support.models",
]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A Redis URL on the session's server, flushed after each test."""
    import redis

    yield redis_server.url
    redis.Redis.from_url(redis_server.url).flushall()


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    given = os.environ.get("METIS_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with PostgresServer() as server:
        yield server.url


def _fresh_postgres(base_url: str) -> str:
    name = f"metis_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(sa.make_url(base_url).set(database=name).render_as_string(hide_password=False))


def migrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, migrated database for one test: SQLite, or PostgreSQL when `request.param` says."""
    if getattr(request, "param", "sqlite") == "postgres":
        url = _fresh_postgres(request.getfixturevalue("postgres_base_url"))
    else:
        url = f"sqlite:///{tmp_path / 'metis.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, migrated database per test, on SQLite and on PostgreSQL (the SQL of the domain
    core and the workers runs on both; tests/web, tests/lms and tests/devkit override this to
    SQLite only, since their pages and clients read through that same SQL)."""
    return migrated_database(request, tmp_path)


@pytest.fixture()
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        mode="test",
        secret_key="test-secret",
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_path,
        base_url="https://127.0.0.1:8443",
        allow_loopback_platforms=True,
    )


@pytest.fixture()
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.effective_database_url)
    yield database
    database.dispose()


@pytest.fixture()
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["metis.db"].dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()
