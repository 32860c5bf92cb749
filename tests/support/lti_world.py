"""The LTI world: Metis and the demo LMS, both over HTTPS on 127.0.0.1, the platform registered
and approved; `lti_world` is the fixture every end-to-end test starts from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Blueprint, Flask, g, jsonify
from flask.typing import ResponseReturnValue

from lti_tool.core.db import Database
from lti_tool.devkit.demo.seed import register_demo_platform
from lti_tool.devkit.demo_lms import PlatformStore, ToolEndpoints, create_platform_app
from lti_tool.lti.roles import Role
from lti_tool.settings import Settings, load_settings
from lti_tool.web.access import require_launch
from lti_tool.web.app import create_app
from tests.support.https import HttpsServer


class _Late:
    """A WSGI callable whose app is set after the server (and so its port) exists."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


def _probe_blueprint() -> Blueprint:
    """Pages guarded by require_launch, standing in for the student/teacher/admin pages."""
    bp = Blueprint("probe", __name__)

    def show() -> ResponseReturnValue:
        launch = g.launch
        return jsonify(
            role=launch.role.name,
            platform_id=launch.platform_id,
            context_id=launch.context_id,
            user_id=launch.user_id,
        )

    for role in (Role.learner, Role.instructor, Role.admin):
        bp.add_url_rule(
            f"/probe/{role.name}/<launch_id>",
            f"probe_{role.name}",
            require_launch(role)(lambda launch_id: show()),
        )
    return bp


@dataclass
class LtiWorld:
    metis: HttpsServer
    platform: HttpsServer
    app: Flask
    settings: Settings
    store: PlatformStore
    db: Database
    cert: Path
    platform_pk: int

    def browser(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.cert)
        return session


@pytest.fixture()
def lti_world(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LtiWorld]:
    cert_dir = tmp_path / "certs"
    metis_wsgi, platform_wsgi = _Late(), _Late()
    metis = HttpsServer(metis_wsgi, cert_dir)
    platform = HttpsServer(platform_wsgi, cert_dir)
    # Outbound calls (JWKS, token, AGS) trust the self-signed certificate of the test servers.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(metis.cert))
    settings = load_settings(
        mode="test",
        secret_key="test-secret",
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_path,
        base_url=metis.url,
    )
    app = create_app(settings)
    app.register_blueprint(_probe_blueprint())
    metis_wsgi.app = app
    store = PlatformStore(
        platform.url,
        ToolEndpoints(
            login_url=f"{metis.url}/lti/login",
            launch_url=f"{metis.url}/lti/launch",
            jwks_url=f"{metis.url}/.well-known/jwks.json",
        ),
    )
    platform_wsgi.app = create_platform_app(store)
    db = Database(database_url)
    with db.session() as s:
        row, _deployment = register_demo_platform(
            s,
            issuer=store.issuer,
            client_id=store.client_id,
            deployment_id=store.deployment_id,
            name="Demo LMS",
        )
        platform_pk = row.id
    metis.start()
    platform.start()
    try:
        yield LtiWorld(metis, platform, app, settings, store, db, metis.cert, platform_pk)
    finally:
        metis.stop()
        platform.stop()
        db.dispose()
        app.extensions["metis.db"].dispose()
