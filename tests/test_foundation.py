"""The foundation: settings validation, migrations on both databases, the factory, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from lti_tool.settings import SettingsError, load_settings


def test_production_requires_named_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("METIS_SECRET_KEY", "METIS_DATABASE_URL", "METIS_REDIS_URL", "METIS_MODE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SettingsError, match="METIS_SECRET_KEY.*METIS_DATABASE_URL"):
        load_settings()


def test_plain_http_needs_explicit_dev_setting() -> None:
    with pytest.raises(SettingsError, match="METIS_ALLOW_INSECURE_HTTP"):
        load_settings(mode="demo", base_url="http://localhost:8000")
    assert load_settings(
        mode="demo", base_url="http://localhost:8000", allow_insecure_http=True
    ).base_url.startswith("http://")


def test_leeway_is_bounded() -> None:
    with pytest.raises(SettingsError, match="METIS_JWT_LEEWAY_S"):
        load_settings(mode="demo", jwt_leeway_s=600)


def test_migrations_create_every_table(database_url: str) -> None:
    from lti_tool.core.db.models import Base

    engine = sa.create_engine(database_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_health_checks_real_services(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_web_app_never_imports_torch() -> None:
    code = (
        "import sys; from lti_tool.web.app import create_app; "
        "from lti_tool.settings import load_settings; "
        "create_app(load_settings(mode='demo')); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'meta_engine' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
