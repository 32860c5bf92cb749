"""Admin pages and actions, each over a real Administrator launch and over a local admin login:
what they show, CSRF on every action, who is refused."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from lti_tool.core.db.models import (
    Deployment,
    KeyStatus,
    ModelStatus,
    ModelVersion,
    Platform,
    PlatformStatus,
    RegistrationToken,
    ToolKey,
)
from lti_tool.devkit.lti_client import login_and_launch
from tests.support.admin import (
    INSTRUCTOR,
    LEARNER,
    Admin,
    create_local_admin,
    form_ending,
    launch,
    local_login,
)
from tests.support.lti_world import LtiWorld

PAGES = ("", "/keys", "/health", "/models")


def _pending_platform(world: LtiWorld) -> int:
    with world.db.session() as s:
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
        return pending.id


def _status(world: LtiWorld, platform_id: int) -> PlatformStatus:
    with world.db.session() as s:
        row = s.get(Platform, platform_id)
        assert row is not None
        return PlatformStatus(row.status)


def test_every_page_has_the_nav_and_its_content(admin: Admin) -> None:
    world = admin.world
    with world.db.session() as s:
        s.add(ModelVersion(version="v-old", path="/m0", metrics={"auc": 0.70},
                           status=ModelStatus.retired))
        s.add(ModelVersion(version="v-test-1", path="/m", metrics={"auc": 0.7712},
                           status=ModelStatus.active))
    html = {page: admin.page(page) for page in PAGES}
    for page, text in html.items():
        for label in ("Platforms", "Signing keys", "Queues and workers", "Student models"):
            assert f">{label}</a>" in text, (page, label)
        assert text.count('aria-current="page"') == 1
        # Links stay under the same kind of access (launch id, or the local prefix).
        assert f'href="{admin.base}/keys"' in text
    base = world.metis.url
    platforms = html[""]
    for value in (f"{base}/lti/login", f"{base}/lti/launch", f"{base}/.well-known/jwks.json",
                  "Deep linking (content selection) URL", "Create a registration URL",
                  "tool-wide"):
        assert value in platforms
    active = platforms.split('id="platforms-active-h"')[1].split("</section>")[0]
    assert world.store.issuer in active and world.store.deployment_id in active
    with world.db.session() as s:
        kid = s.scalars(select(ToolKey.kid)).first()
    assert kid and kid in html["/keys"]
    assert "Queue <code>adapt</code>" in html["/health"] and "Outbox backlog" in html["/health"]
    models = html["/models"]
    assert "Active model: <strong><code>v-test-1</code>" in models
    assert "auc 0.771" in models and "v-old" in models
    if admin.via == "local":
        assert "local admin ops-admin" in platforms and "Log out" in platforms
    else:
        assert "an LMS administrator" in platforms and "Log out" not in platforms


def test_platforms_grouped_and_approve_disable_with_csrf(admin: Admin) -> None:
    world = admin.world
    pid = _pending_platform(world)
    html = admin.page()
    waiting = html.split('id="platforms-pending-h"')[1].split("</section>")[0]
    assert "Waiting for approval (1)" in html and "Pending Moodle" in waiting

    forged = admin.submit("", f"/platforms/{pid}/approve", csrf_token="")
    assert forged.status_code == 400
    assert _status(world, pid) == PlatformStatus.pending

    done = admin.submit("", f"/platforms/{pid}/approve")
    assert done.status_code == 303
    assert _status(world, pid) == PlatformStatus.active
    with world.db.session() as s:
        assert s.scalars(select(Deployment.active).where(Deployment.platform_id == pid)).one()
    after = admin.browser.get(urljoin(world.metis.url, done.headers["Location"])).text
    assert f"(platform {pid}) approved: it can launch Metis now." in after

    assert admin.submit("", f"/platforms/{pid}/disable").status_code == 303
    assert _status(world, pid) == PlatformStatus.disabled
    assert "Disabled (1)" in admin.page()


def test_deployment_disable_and_approve(admin: Admin) -> None:
    world = admin.world
    pid = world.platform_pk
    resp = admin.submit("", f"/platforms/{pid}/deployments/disable")
    assert resp.status_code == 303
    with world.db.session() as s:
        assert not s.scalars(select(Deployment.active).where(Deployment.platform_id == pid)).one()
    assert "not approved" in admin.page()
    assert admin.submit("", f"/platforms/{pid}/deployments/approve").status_code == 303
    with world.db.session() as s:
        assert s.scalars(select(Deployment.active).where(Deployment.platform_id == pid)).one()


def test_registration_url_button_mints_a_working_link(admin: Admin) -> None:
    resp = admin.submit("", "/registration-url")
    assert resp.status_code == 200
    assert f"{admin.world.metis.url}/lti/register/" in resp.text
    with admin.world.db.session() as s:
        token = s.scalars(select(RegistrationToken)).one()
        assert token.used_at is None


def test_rotate_key_keeps_old_key_published(admin: Admin) -> None:
    admin.page("/keys")  # the first key is made on first use
    resp = admin.submit("/keys", "/keys/rotate")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"{admin.base}/keys")
    with admin.world.db.session() as s:
        statuses = sorted(k.status for k in s.scalars(select(ToolKey)))
    assert statuses == [KeyStatus.active, KeyStatus.retired]
    jwks = admin.browser.get(f"{admin.world.metis.url}/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2
    assert "new signing key" in admin.page("/keys")


def test_unknown_platform_and_action_are_4xx(admin: Admin) -> None:
    token = {"csrf_token": form_ending(admin.page("/keys"), "/keys/rotate").fields["csrf_token"]}
    browser, url = admin.browser, admin.world.metis.url + admin.base
    headers = {"Referer": admin.world.metis.url + "/admin/"}
    missing = browser.post(f"{url}/platforms/999/approve", data=token, headers=headers)
    assert missing.status_code == 404 and "no platform with id 999" in missing.text
    bogus = browser.post(f"{url}/platforms/1/explode", data=token, headers=headers)
    assert bogus.status_code == 404
    blank = browser.post(f"{url}/platforms/1/deployments/disable",
                         data={**token, "deployment_id": ""}, headers=headers)
    assert blank.status_code == 400 and "1-255 characters" in blank.text


@pytest.mark.parametrize("user", [LEARNER, INSTRUCTOR])
def test_lower_roles_get_403(lti_world: LtiWorld, user: str) -> None:
    browser, launch_id = launch(lti_world, user)
    for page in PAGES:
        resp = browser.get(f"{lti_world.metis.url}/admin/{launch_id}{page}")
        assert resp.status_code == 403, page
        assert "needs the admin role" in resp.text
    rotate = browser.post(f"{lti_world.metis.url}/admin/{launch_id}/keys/rotate")
    assert rotate.status_code in (400, 403)
    # Their launch gives no way into the local pages either.
    local = browser.get(f"{lti_world.metis.url}/admin/local", allow_redirects=False)
    assert local.status_code == 303 and "/admin/login" in local.headers["Location"]


def test_nobody_logged_in_is_sent_to_login(lti_world: LtiWorld) -> None:
    browser = lti_world.browser()
    for page in PAGES:
        resp = browser.get(f"{lti_world.metis.url}/admin/local{page}", allow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["Location"].endswith(f"/admin/login?next=/admin/local{page}")
    # A POST without a session is refused (CSRF first: a stranger has no token).
    resp = browser.post(f"{lti_world.metis.url}/admin/local/keys/rotate", data={})
    assert resp.status_code in (400, 401)
    with lti_world.db.session() as s:
        assert s.scalars(select(ToolKey)).first() is None  # nothing was rotated


def test_logged_out_post_with_a_valid_token_is_401(lti_world: LtiWorld) -> None:
    """CSRF passes (the token is the browser's own), but without a login the answer is 401."""
    create_local_admin(lti_world.db)
    browser, _ = local_login(lti_world)
    html = browser.get(f"{lti_world.metis.url}/admin/local/keys").text
    logout = form_ending(html, "/admin/logout")
    headers = {"Referer": lti_world.metis.url + "/admin/"}
    out = browser.post(lti_world.metis.url + logout.action, data=logout.fields, headers=headers,
                       allow_redirects=False)
    assert out.status_code == 303 and out.headers["Location"].endswith("/admin/login")
    assert "You are logged out." in browser.get(lti_world.metis.url + "/admin/login").text
    refused = browser.post(f"{lti_world.metis.url}/admin/local/keys/rotate",
                           data=logout.fields, headers=headers, allow_redirects=False)
    assert refused.status_code == 401 and "log in" in refused.text


def test_another_browser_cannot_use_the_admin_launch(lti_world: LtiWorld) -> None:
    _browser, launch_id = launch(lti_world, "301")
    page = lti_world.browser().get(f"{lti_world.metis.url}/admin/{launch_id}")
    assert page.status_code == 403


def test_disabled_platform_cannot_launch_until_approved_again(admin: Admin) -> None:
    world = admin.world
    pid = world.platform_pk
    assert admin.submit("", f"/platforms/{pid}/disable").status_code == 303

    link = world.store.add_link("Decimals")
    refused = login_and_launch(world.browser(), world.platform.url, user=LEARNER, link=link.id)
    assert 400 <= refused.status_code < 500, refused.text

    assert admin.submit("", f"/platforms/{pid}/approve").status_code == 303
    again = login_and_launch(world.browser(), world.platform.url, user=LEARNER, link=link.id)
    assert again.status_code == 303, again.text
