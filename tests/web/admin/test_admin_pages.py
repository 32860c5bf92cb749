"""Admin pages and actions, each over a real Administrator launch and over a local admin login:
what they show, CSRF on every action, who is refused."""

from __future__ import annotations

import html as html_text
import importlib.util
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from lti_tool.core import operations
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
from lti_tool.devkit.lti_client import forms, login_and_launch
from tests.support.admin import (
    INSTRUCTOR,
    LEARNER,
    Admin,
    create_local_admin,
    form_ending,
    launch,
    local_login,
    post,
)
from tests.support.lti_world import LtiWorld

PAGES = ("", "/keys", "/keys/rotate", "/health", "/models")


def meta_engine_dir() -> str:
    # Located, not imported: the test reads the card file as the page does, independently.
    spec = importlib.util.find_spec("meta_engine")
    assert spec is not None and spec.submodule_search_locations
    return list(spec.submodule_search_locations)[0]


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
    served = models.split('id="served-h"')[1].split("</section>")[0]
    assert "<code>v-test-1</code>" in served and "promoted for all deployments" in served
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
    assert f"Platform Pending Moodle (platform {pid}) approved: it can launch Metis now." in after

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


def _key_statuses(admin: Admin) -> list[KeyStatus]:
    with admin.world.db.session() as s:
        return sorted(KeyStatus(k.status) for k in s.scalars(select(ToolKey)))


def test_rotate_key_keeps_old_key_published(admin: Admin) -> None:
    admin.page("/keys")  # the first key is made on first use
    resp = admin.submit("/keys/rotate", "/keys/rotate")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"{admin.base}/keys")
    assert _key_statuses(admin) == [KeyStatus.active, KeyStatus.retired]
    jwks = admin.browser.get(f"{admin.world.metis.url}/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 2
    after = admin.page("/keys")
    assert "Rotated: new signing key" in after and "stays published for 7 days" in after


def test_rotation_asks_first_and_cancel_changes_nothing(admin: Admin) -> None:
    keys_page = admin.page("/keys")
    with admin.world.db.session() as s:
        kid = s.scalars(select(ToolKey.kid)).one()
    # The keys page only leads to the question: no form there rotates.
    assert not [f for f in forms(keys_page) if f.action.endswith("/keys/rotate")]
    assert f'href="{admin.base}/keys/rotate"' in keys_page

    confirm = admin.page("/keys/rotate")
    assert "Rotate the signing key?" in confirm
    assert f"retires the current one (<code>{kid}</code>)" in confirm
    assert "for 7 days" in confirm and "pasted the public key by hand" in confirm
    cancel = confirm.split('id="rotate-h"')[1]
    assert f'<a href="{admin.base}/keys">Cancel</a>' in cancel
    assert _key_statuses(admin) == [KeyStatus.active]  # looking is not rotating

    # A POST that skipped the question (valid CSRF token, no confirmation) rotates nothing.
    bare = admin.submit("/keys/rotate", "/keys/rotate", confirm="")
    assert bare.status_code == 400 and "confirm the rotation" in bare.text
    assert _key_statuses(admin) == [KeyStatus.active]


class _Rows(HTMLParser):
    """Each table row of a page: its header cell's text and the accessible names of its
    buttons (visible words plus the visually hidden ones a screen reader says)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_row = False
        self._th: list[str] | None = None
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(("", []))
            self._in_row = True
        elif tag == "th" and self._in_row:
            self._th = []
        elif tag == "button" and self._in_row:
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._in_row = False
        elif tag == "th" and self._th is not None:
            self.rows[-1] = (" ".join("".join(self._th).split()), self.rows[-1][1])
            self._th = None
        elif tag == "button" and self._button is not None:
            self.rows[-1][1].append(" ".join("".join(self._button).split()))
            self._button = None

    def handle_data(self, data: str) -> None:
        for part in (self._th, self._button):
            if part is not None:
                part.append(data)


def _rows(html: str) -> dict[str, list[str]]:
    parser = _Rows()
    parser.feed(html)
    return {head: buttons for head, buttons in parser.rows if buttons}


def test_each_row_has_one_action_that_names_what_it_acts_on(admin: Admin) -> None:
    world = admin.world
    pid = _pending_platform(world)
    with world.db.session() as s:
        active = s.get(Platform, world.platform_pk)
        assert active is not None
        active_name = active.name or active.issuer
    rows = _rows(admin.page())
    pending_row = next(h for h in rows if h.startswith("Platform Pending Moodle"))
    active_row = next(h for h in rows if h.startswith(f"Platform {active_name}"))
    assert rows[pending_row] == ["Approve platform Pending Moodle"]
    assert rows["Deployment 9 of Pending Moodle"] == ["Approve deployment 9 of Pending Moodle"]
    assert rows[active_row] == [f"Disable platform {active_name}"]
    dep = world.store.deployment_id
    assert rows[f"Deployment {dep} of {active_name}"] == [
        f"Disable deployment {dep} of {active_name}"]
    assert all(len(buttons) == 1 for buttons in rows.values()), rows

    # Approving the deployment is not approving its platform, and the page says which it did.
    form = next(f for f in forms(admin.page())
                if f.action.endswith(f"/platforms/{pid}/deployments/approve"))
    done = post(world, admin.browser, form)
    assert done.status_code == 303
    after = admin.browser.get(urljoin(world.metis.url, done.headers["Location"])).text
    assert f"Deployment 9 of platform {pid} approved: its courses can launch Metis." in after
    assert _status(world, pid) == PlatformStatus.pending
    assert _rows(after)["Deployment 9 of Pending Moodle"] == [
        "Disable deployment 9 of Pending Moodle"]


def test_unknown_platform_and_action_are_4xx(admin: Admin) -> None:
    token = {"csrf_token": form_ending(admin.page("/keys/rotate"),
                                       "/keys/rotate").fields["csrf_token"]}
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


def _served(html: str) -> dict[str, list[str]]:
    """The 'which model serves each deployment' table: deployment -> [model, why]."""
    table = html.split('id="served-h"')[1].split("</section>")[0]
    out = {}
    for row in table.split("<tr>")[2:]:  # after the header row
        cells = [" ".join(html_text.unescape(re.sub(r"<[^>]+>", "", c)).split())
                 for c in re.split(r"</t[hd]>", row)[:3]]
        out[cells[0]] = cells[1:]
    return out


def test_models_page_names_each_deployments_model_and_the_default_card(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = admin.world
    pid = _pending_platform(world)
    with world.db.session() as s:
        own_pk = s.scalars(select(Deployment.id).where(Deployment.platform_id == pid)).one()
        ours = s.get(Platform, world.platform_pk)
        assert ours is not None
        ours_name = f"deployment {world.store.deployment_id} of {ours.name or ours.issuer}"
        s.add(ModelVersion(version="v-own-9", path="/m9", deployment_id=own_pk,
                           status=ModelStatus.active))
    card = json.loads((Path(meta_engine_dir()) / "default_model" / "model_card.json").read_text())

    html = admin.page("/models")
    served = _served(html)
    assert served["deployment 9 of Pending Moodle"] == [
        "v-own-9", "retrained on this deployment's answers"]
    assert served[ours_name] == [f"default ({card['version']})",
                                 "the shipped default: no model promoted for it"]
    shipped = html.split('id="card-h"')[1].split("</section>")[0]
    assert card["version"] in shipped and card["trained_on"] in shipped
    assert card["intended_use"] in shipped
    assert f"mean AUC per course {card['valid']['mean_course_auc']:.3f}" in shipped
    versions = html.split('id="models-h"')[1]
    assert "<td>deployment 9 of Pending Moodle</td>" in versions

    # A model promoted for all deployments replaces the default, not a deployment's own.
    with world.db.session() as s:
        s.add(ModelVersion(version="v-all", path="/mall", status=ModelStatus.active))
    served = _served(admin.page("/models"))
    assert served[ours_name] == ["v-all", "promoted for all deployments"]
    assert served["deployment 9 of Pending Moodle"][0] == "v-own-9"

    # A web host without the model package still shows the page, and says why no card.
    monkeypatch.setattr(operations, "DEFAULT_CARD", ("no_such_package_here", "card.json"))
    html = admin.page("/models")
    assert "card could not be read on this server" in html
    assert _served(html)[ours_name][0] == "v-all"


def test_reading_the_card_does_not_import_the_model_package() -> None:
    code = ("import sys; from lti_tool.core import operations; "
            "card = operations.shipped_default_card(); "
            "assert card is not None and card.version, card; "
            "assert 'meta_engine' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
