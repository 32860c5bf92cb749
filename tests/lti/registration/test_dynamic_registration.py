"""Dynamic registration end to end against the HTTPS fake platform in fake_platform.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Platform, PlatformStatus, RegistrationToken
from lti_tool.lti.registration import tokens
from lti_tool.lti.registration.dynamic import SCOPES, TOOL_CONFIG_CLAIM
from lti_tool.settings import Settings
from lti_tool.web.app import create_app
from tests.support.registration_platform import PlatformState

AppFactory = Callable[..., FlaskClient]


@pytest.fixture()
def make_client(settings: Settings) -> Iterator[AppFactory]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> FlaskClient:
        app = create_app(settings.model_copy(update=overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["metis.db"].dispose()


def _mint(db: Database, ttl_s: int = 3600) -> str:
    with db.session() as s:
        return tokens.mint(s, ttl_s)


def _register(client: FlaskClient, raw: str, platform: PlatformState, **params: str) -> Any:
    query = {
        "openid_configuration": platform.config_url,
        "registration_token": platform.registration_token,
        **params,
    }
    return client.get(f"/lti/register/{raw}", query_string=query)


def _platforms(db: Database) -> list[Platform]:
    with db.session() as s:
        return list(s.scalars(select(Platform)))


def test_registration_through_a_minted_link_is_approved_and_says_what_is_left(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client()
    raw = _mint(db)
    resp = _register(client, raw, platform)
    assert resp.status_code == 200, resp.text
    # The page stays until the admin has read it: no close signal when it loads, only from
    # its button (static/registration.js), and it names the two Moodle steps.
    assert "postMessage" not in resp.text and "registration.js" in resp.text
    assert 'id="close-dialog"' in resp.text
    assert "Metis has approved this registration" in resp.text
    assert "click <em>Activate</em>" in resp.text
    assert "<em>Tool configuration usage</em>" in resp.text
    assert "<em>Show in activity chooser and\n    as a preconfigured tool</em>" in resp.text
    script = client.get("/static/metis/registration.js").text
    assert 'addEventListener("click"' in script and "org.imsglobal.lti.close" in script
    # The registration dialog of this platform may frame this page.
    csp = resp.headers["Content-Security-Policy"]
    assert csp == f"frame-ancestors 'self' {platform.base_url}"

    [sent] = platform.received
    assert sent["initiate_login_uri"] == "https://127.0.0.1:8443/lti/login"
    assert sent["redirect_uris"] == ["https://127.0.0.1:8443/lti/launch"]
    assert sent["jwks_uri"] == "https://127.0.0.1:8443/.well-known/jwks.json"
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert set(sent["scope"].split()) == set(SCOPES)
    claim = sent[TOOL_CONFIG_CLAIM]
    assert claim["domain"] == "127.0.0.1:8443"
    assert {"name", "given_name", "family_name", "email"} <= set(claim["claims"])
    assert claim["messages"][0]["type"] == "LtiDeepLinkingRequest"

    with db.session() as s:
        stored = s.scalars(select(Platform)).one()
        # An admin minted the link: that is the approval; it can launch at once.
        assert stored.status == PlatformStatus.active
        assert (stored.issuer, stored.client_id) == (platform.base_url, "metis-client-7")
        assert stored.auth_login_url == f"{platform.base_url}/mod/lti/auth.php"
        assert stored.auth_token_url == f"{platform.base_url}/mod/lti/token.php"
        assert stored.key_set_url == f"{platform.base_url}/mod/lti/certs.php"
        assert (stored.registered_via, stored.product_family_code) == ("dynamic", "moodle")
        deployment = s.scalars(select(Deployment)).one()
        assert (deployment.deployment_id, deployment.active) == ("3", True)
        token = s.scalars(select(RegistrationToken)).one()
        assert token.used_at is not None and token.platform_id == stored.id


def test_reused_registration_url_is_refused(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client()
    raw = _mint(db)
    assert _register(client, raw, platform).status_code == 200
    again = _register(client, raw, platform)
    assert again.status_code == 410
    assert "already used" in again.text
    assert len(platform.received) == 1


def test_a_disabled_platform_registering_again_stays_disabled(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client()
    assert _register(client, _mint(db), platform).status_code == 200
    with db.session() as s:
        s.execute(update(Platform).values(status=PlatformStatus.disabled))
        s.execute(update(Deployment).values(active=False))
    platform.registration_token = "a-second-moodle-token"
    again = _register(client, _mint(db), platform)
    assert again.status_code == 200
    assert "disabled this platform" in again.text and "Metis has approved" not in again.text
    with db.session() as s:
        assert s.scalars(select(Platform.status)).one() == PlatformStatus.disabled
        assert s.scalars(select(Deployment.active)).all() == [False]


def test_expired_registration_url_is_refused(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client()
    raw = _mint(db)
    with db.session() as s:
        s.execute(
            update(RegistrationToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    resp = _register(client, raw, platform)
    assert resp.status_code == 410
    assert "expired" in resp.text
    assert platform.received == [] and _platforms(db) == []


def test_unknown_registration_url_is_refused(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    resp = _register(make_client(), "not-a-token", platform)
    assert resp.status_code == 404
    assert "not valid" in resp.text
    # Without an admin's link nothing is fetched, registered, stored or approved.
    assert platform.received == [] and _platforms(db) == []


def test_missing_parameters_are_a_clear_400(make_client: AppFactory, db: Database) -> None:
    resp = make_client().get(f"/lti/register/{_mint(db)}")
    assert resp.status_code == 400
    assert "openid_configuration" in resp.text


def test_issuer_host_mismatch_is_refused_and_logged(
    make_client: AppFactory,
    db: Database,
    platform: PlatformState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform.issuer = "https://moodle.example.org"
    with caplog.at_level(logging.WARNING, logger="metis.registration"):
        resp = _register(make_client(), _mint(db), platform)
    assert resp.status_code == 400
    assert "does not match the configuration URL host" in resp.text
    assert platform.base_url in resp.headers["Content-Security-Policy"]
    assert any("moodle.example.org" in r.getMessage() for r in caplog.records)
    assert platform.received == [] and _platforms(db) == []


def test_plain_http_configuration_needs_the_loopback_dev_setting(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client(allow_loopback_platforms=False)
    plain = platform.config_url.replace("https://", "http://")
    resp = _register(client, _mint(db), platform, openid_configuration=plain)
    assert resp.status_code == 400
    assert "METIS_ALLOW_LOOPBACK_PLATFORMS" in resp.text
    # A public host over plain HTTP is refused even with the dev setting.
    resp = _register(
        make_client(),
        _mint(db),
        platform,
        openid_configuration="http://moodle.example.org/mod/lti/openid-configuration.php",
    )
    assert resp.status_code == 400
    assert "must use HTTPS" in resp.text
    assert platform.received == []


def test_oversize_configuration_is_refused(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    platform.config_padding = 20_000
    resp = _register(make_client(outbound_max_bytes=10_000), _mint(db), platform)
    assert resp.status_code == 400
    assert "larger than 10000 bytes" in resp.text
    assert _platforms(db) == []


def test_slow_configuration_times_out(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    platform.config_delay_s = 1.5
    resp = _register(make_client(outbound_timeout_s=0.3), _mint(db), platform)
    assert resp.status_code == 400
    assert "no answer within 0.3 s" in resp.text
    assert _platforms(db) == []


def test_platform_token_already_used_is_reported_and_link_stays_usable(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    client = make_client()
    platform.used_tokens.add(platform.registration_token)
    raw = _mint(db)
    resp = _register(client, raw, platform)
    assert resp.status_code == 400
    assert "token_already_used" in resp.text
    assert _platforms(db) == []
    # Nothing was registered, so the admin can retry the same link with a fresh LMS token.
    platform.registration_token = "fresh-token"
    assert _register(client, raw, platform).status_code == 200


def test_platform_error_is_reported(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    platform.fail_registration = (500, {"error": "server_error"})
    resp = _register(make_client(), _mint(db), platform)
    assert resp.status_code == 400
    assert "HTTP 500: server_error" in resp.text


def test_invalid_configuration_json_is_refused(
    make_client: AppFactory, db: Database, platform: PlatformState
) -> None:
    resp = _register(
        make_client(),
        _mint(db),
        platform,
        openid_configuration=f"{platform.base_url}/mod/lti/openid-registration.php",
    )
    # A GET on the registration endpoint is 405 with an HTML body: not a configuration.
    assert resp.status_code == 400
    assert "HTTP 405" in resp.text
