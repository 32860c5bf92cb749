"""Admin pages behind real LTI launches: who may see them, what they show, CSRF on actions."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.models import (
    Deployment,
    KeyStatus,
    ModelVersion,
    Platform,
    PlatformStatus,
    RegistrationToken,
    ToolKey,
)
from tests.lti.conftest import LtiWorld
from tests.lti.flows import Form, forms, login_and_launch

ADMIN, INSTRUCTOR, LEARNER = "301", "201", "101"


def _launch(world: LtiWorld, user: str) -> tuple[requests.Session, str]:
    link = world.store.add_link("Fractions", score_maximum=10)
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user=user, link=link.id)
    assert r.status_code == 303, r.text
    return browser, r.headers["Location"].rsplit("/", 1)[1]


def _admin_page(world: LtiWorld) -> tuple[requests.Session, str, str]:
    browser, launch_id = _launch(world, ADMIN)
    page = browser.get(f"{world.metis.url}/admin/{launch_id}")
    assert page.status_code == 200, page.text
    return browser, launch_id, page.text


def _form(html: str, action_end: str) -> Form:
    [form] = [f for f in forms(html) if f.action.endswith(action_end)][:1]
    return form


def _post(world: LtiWorld, browser: requests.Session, form: Form) -> requests.Response:
    # A browser sends the page as Referer (Referrer-Policy same-origin); Flask-WTF checks it on
    # HTTPS.
    return browser.post(
        world.metis.url + form.action,
        data=form.fields,
        headers={"Referer": world.metis.url + "/admin/"},
        allow_redirects=False,
    )


def test_admin_sees_registration_values_keys_queues_and_models(lti_world: LtiWorld) -> None:
    with lti_world.db.session() as s:
        s.add(ModelVersion(version="v-test-1", path="/m", metrics={"auc": 0.7712}))
    _browser, _launch_id, html = _admin_page(lti_world)
    base = lti_world.metis.url
    for value in (
        f"{base}/lti/login",
        f"{base}/lti/launch",
        f"{base}/.well-known/jwks.json",
        "Deep linking (content selection) URL",
        "Create a registration URL",
    ):
        assert value in html
    assert lti_world.store.issuer in html and lti_world.store.deployment_id in html
    with lti_world.db.session() as s:
        kid = s.scalars(select(ToolKey.kid)).first()
    assert kid and kid in html
    assert "Queue <code>adapt</code>" in html and "Outbox backlog" in html
    assert "v-test-1" in html and "auc 0.771" in html
    assert "tool-wide" in html


@pytest.mark.parametrize("user", [LEARNER, INSTRUCTOR])
def test_lower_roles_get_403(lti_world: LtiWorld, user: str) -> None:
    browser, launch_id = _launch(lti_world, user)
    page = browser.get(f"{lti_world.metis.url}/admin/{launch_id}")
    assert page.status_code == 403
    assert "needs the admin role" in page.text
    rotate = browser.post(f"{lti_world.metis.url}/admin/{launch_id}/keys/rotate")
    assert rotate.status_code in (400, 403)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_another_browser_cannot_use_the_admin_launch(lti_world: LtiWorld) -> None:
    _browser, launch_id, _html = _admin_page(lti_world)
    page = lti_world.browser().get(f"{lti_world.metis.url}/admin/{launch_id}")
    assert page.status_code == 403


def test_approve_and_disable_with_csrf(lti_world: LtiWorld) -> None:
    with lti_world.db.session() as s:
        pending = Platform(
            name="Pending Moodle",
            issuer="https://moodle.example.org",
            client_id="c-1",
            auth_login_url="https://moodle.example.org/mod/lti/auth.php",
            auth_token_url="https://moodle.example.org/mod/lti/token.php",
            key_set_url="https://moodle.example.org/mod/lti/certs.php",
            status=PlatformStatus.pending,
            registered_via="dynamic",
        )
        s.add(pending)
        s.flush()
        s.add(Deployment(platform_id=pending.id, deployment_id="9", active=False))
        pid = pending.id
    browser, launch_id, html = _admin_page(lti_world)
    approve = _form(html, f"/platforms/{pid}/approve")

    forged = _post(lti_world, browser, Form(approve.action, "post", {}))
    assert forged.status_code == 400
    with lti_world.db.session() as s:
        assert s.get(Platform, pid).status == PlatformStatus.pending  # type: ignore[union-attr]

    done = _post(lti_world, browser, approve)
    assert done.status_code == 303
    with lti_world.db.session() as s:
        assert s.get(Platform, pid).status == PlatformStatus.active  # type: ignore[union-attr]
        deployment = s.scalars(select(Deployment).where(Deployment.platform_id == pid)).one()
        assert deployment.active
    html = browser.get(urljoin(lti_world.metis.url, done.headers["Location"])).text
    assert f"platform {pid}: approved" in html

    disable_deployment = _form(html, f"/platforms/{pid}/deployments/disable")
    assert _post(lti_world, browser, disable_deployment).status_code == 303
    disable = _form(
        browser.get(urljoin(lti_world.metis.url, done.headers["Location"])).text,
        f"/platforms/{pid}/disable",
    )
    assert _post(lti_world, browser, disable).status_code == 303
    with lti_world.db.session() as s:
        assert s.get(Platform, pid).status == PlatformStatus.disabled  # type: ignore[union-attr]
        assert not s.scalars(select(Deployment.active).where(Deployment.platform_id == pid)).one()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unknown_platform_and_action_are_4xx(lti_world: LtiWorld) -> None:
    browser, launch_id, html = _admin_page(lti_world)
    token = _form(html, "/keys/rotate").fields["csrf_token"]
    base = f"/admin/{launch_id}"
    missing = _post(
        lti_world, browser, Form(f"{base}/platforms/999/approve", "post", {"csrf_token": token})
    )
    assert missing.status_code == 404 and "no platform with id 999" in missing.text
    bogus = _post(
        lti_world, browser, Form(f"{base}/platforms/1/explode", "post", {"csrf_token": token})
    )
    assert bogus.status_code == 404


def test_registration_url_button_mints_a_working_link(lti_world: LtiWorld) -> None:
    browser, launch_id, html = _admin_page(lti_world)
    resp = _post(lti_world, browser, _form(html, "/registration-url"))
    assert resp.status_code == 200
    assert f"{lti_world.metis.url}/lti/register/" in resp.text
    with lti_world.db.session() as s:
        token = s.scalars(select(RegistrationToken)).one()
        assert token.used_at is None


def test_rotate_key_keeps_old_key_published(lti_world: LtiWorld) -> None:
    browser, _launch_id, html = _admin_page(lti_world)
    resp = _post(lti_world, browser, _form(html, "/keys/rotate"))
    assert resp.status_code == 303
    with lti_world.db.session() as s:
        statuses = sorted(k.status for k in s.scalars(select(ToolKey)))
    assert statuses == [KeyStatus.active, KeyStatus.retired]
    jwks = browser.get(f"{lti_world.metis.url}/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_disabled_platform_cannot_launch_until_approved_again(lti_world: LtiWorld) -> None:
    browser, launch_id, html = _admin_page(lti_world)
    pid = lti_world.platform_pk
    assert _post(lti_world, browser, _form(html, f"/platforms/{pid}/disable")).status_code == 303

    link = lti_world.store.add_link("Decimals")
    refused = login_and_launch(
        lti_world.browser(), lti_world.platform.url, user=LEARNER, link=link.id
    )
    assert 400 <= refused.status_code < 500, refused.text

    html = browser.get(f"{lti_world.metis.url}/admin/{launch_id}").text
    assert _post(lti_world, browser, _form(html, f"/platforms/{pid}/approve")).status_code == 303
    again = login_and_launch(
        lti_world.browser(), lti_world.platform.url, user=LEARNER, link=link.id
    )
    assert again.status_code == 303, again.text
