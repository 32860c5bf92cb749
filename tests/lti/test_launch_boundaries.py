"""The launch and tenant boundaries of issue 12, one test each, and the cookie attributes of
issue 11: every launch is a real signed one from the demo platform, bent by LaunchTweaks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import requests
from sqlalchemy import func, select

from lti_tool.core.db.models import Deployment, Launch, ResourceLink
from lti_tool.devkit.demo_lms import LaunchTweaks
from lti_tool.devkit.lti_client import first_form, follow_cookie_check, login_and_launch, submit
from lti_tool.lti import claims as C
from lti_tool.lti.fields import LOGIN_LIMITS
from lti_tool.lti.login import STATE_COOKIE_PREFIX
from tests.support.lti_world import LtiWorld
from tests.support.practice import seeded_practice_link

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MEMBERSHIP_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"
INSTITUTION_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"


def _launch_id(response: requests.Response) -> str:
    return response.headers["Location"].split("?", 1)[0].rsplit("/", 1)[1]


def _state_keys(world: LtiWorld) -> list[bytes]:
    return list(redis.Redis.from_url(world.settings.redis_url).scan_iter("metis:lti:state:*"))


def _launch_count(world: LtiWorld) -> int:
    with world.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Launch)) or 0)


# --- cookies -----------------------------------------------------------------------------


def test_every_cookie_of_the_flow_is_secure_samesite_none_partitioned(
    lti_world: LtiWorld,
) -> None:
    world = lti_world
    seen: list[str] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.url.startswith(world.metis.url):
            seen.extend(response.raw.headers.getlist("Set-Cookie"))

    link = world.store.add_link("Cookies").id
    browser = world.browser()
    browser.hooks["response"].append(record)
    launched = login_and_launch(browser, world.platform.url, user="101", link=link)
    assert launched.status_code == 303, launched.text[:300]
    deep = login_and_launch(browser, world.platform.url, user="201", deep_link=True)
    assert deep.status_code == 303
    # The content selection page: its form's CSRF token goes into the session.
    assert browser.get(world.metis.url + deep.headers["Location"]).status_code == 200

    names = {header.split("=", 1)[0] for header in seen}
    assert "session" in names and any(n.startswith(STATE_COOKIE_PREFIX) for n in names)
    for header in seen:
        attributes = {part.strip().split("=", 1)[0].lower(): part for part in header.split(";")}
        assert {"secure", "httponly", "partitioned"} <= set(attributes), header
        assert attributes["samesite"].strip().lower() == "samesite=none", header


# --- the launch's target -------------------------------------------------------------------


def _login_without_target(world: LtiWorld, tweaks: LaunchTweaks) -> requests.Response:
    link = world.store.add_link("Targets")
    browser = world.browser()
    r = browser.get(f"{world.platform.url}/launch", params={"user": "101", "link": link.id})
    form = first_form(r.text)
    del form.fields["target_link_uri"]
    world.store.next_launch(tweaks)
    r = follow_cookie_check(browser, submit(browser, form))
    assert r.status_code == 302, r.text[:300]
    auth = browser.get(r.headers["Location"], allow_redirects=False)
    return submit(browser, first_form(auth.text))


def test_the_target_must_be_a_metis_launch_url_even_without_one_in_the_login(
    lti_world: LtiWorld,
) -> None:
    metis = lti_world.metis.url
    for target in (
        "https://evil.example/lti/launch",
        f"{metis}/student/elsewhere",  # Metis's host, not one of its launch URLs
        "https://127.0.0.1:1/lti/launch",  # another port
        f"https://user@{metis.split('//', 1)[1]}/lti/launch",
    ):
        tweaks = LaunchTweaks(set_claims={C.TARGET_LINK_URI: target})
        r = _login_without_target(lti_world, tweaks)
        assert r.status_code == 400, (target, r.text[:300])
        assert "is not one of this tool&#39;s launch URLs" in r.text
    assert _launch_count(lti_world) == 0


def test_a_target_on_metis_with_a_query_string_and_no_target_at_all(
    lti_world: LtiWorld,
) -> None:
    ok = _login_without_target(
        lti_world,
        LaunchTweaks(set_claims={C.TARGET_LINK_URI: f"{lti_world.metis.url}/lti/launch?x=1"}),
    )
    assert ok.status_code == 303, ok.text[:300]
    missing = _login_without_target(lti_world, LaunchTweaks(drop_claims=[C.TARGET_LINK_URI]))
    assert missing.status_code == 400 and "no target_link_uri" in missing.text


# --- bounded login fields -------------------------------------------------------------------


def _login_fields(world: LtiWorld) -> dict[str, str]:
    return {
        "iss": world.store.issuer,
        "login_hint": "101",
        "target_link_uri": f"{world.metis.url}/lti/launch",
        "lti_message_hint": '{"launchid": "x"}',
        "client_id": world.store.client_id,
        "lti_deployment_id": world.store.deployment_id,
    }


def test_a_huge_login_hint_is_refused_and_nothing_is_kept(lti_world: LtiWorld) -> None:
    url = f"{lti_world.metis.url}/lti/login"
    fields = _login_fields(lti_world) | {"login_hint": "7" * 1_500_000}
    r = lti_world.browser().post(url, data=fields, allow_redirects=False)
    assert r.status_code == 400 and "login_hint field is 1500000 characters long" in r.text
    assert "Location" not in r.headers and _state_keys(lti_world) == []


def test_every_login_field_is_bounded(lti_world: LtiWorld) -> None:
    url = f"{lti_world.metis.url}/lti/login"
    browser = lti_world.browser()
    for name, limit in LOGIN_LIMITS.items():
        over = browser.post(
            url, data=_login_fields(lti_world) | {name: "a" * (limit + 1)}, allow_redirects=False
        )
        assert over.status_code == 400, (name, over.text[:300])
        assert f"{name} field is {limit + 1} characters long; at most {limit}" in over.text
        assert _state_keys(lti_world) == []
    # At its limit a field is taken (a target at its limit is one of Metis's URLs; another
    # iss or client_id would be an unknown registration, so those two are tested over only).
    base = f"{lti_world.metis.url}/lti/launch?"
    at_limit = {name: "a" * limit for name, limit in LOGIN_LIMITS.items()
                if name not in ("iss", "client_id")}
    at_limit["target_link_uri"] = base + urlencode(
        {"x": "a" * (LOGIN_LIMITS["target_link_uri"] - len(base) - 2)})
    for name, value in at_limit.items():
        at = browser.post(url, data=_login_fields(lti_world) | {name: value},
                          allow_redirects=False)
        assert at.status_code == 302, (name, at.text[:300])


def test_launch_fields_are_bounded(lti_world: LtiWorld) -> None:
    url = f"{lti_world.metis.url}/lti/launch"
    browser = lti_world.browser()
    r = browser.post(url, data={"id_token": "x", "state": "s" * 129})
    assert r.status_code == 400 and "state field is 129 characters long" in r.text
    r = browser.post(url, data={"id_token": "x" * (64 * 1024 + 1), "state": "s"})
    assert r.status_code == 400 and "id_token field is 65537 characters long" in r.text


# --- a resource link belongs to its (platform, deployment, course) ------------------------------


def test_another_courses_link_id_gets_its_own_record(lti_world: LtiWorld) -> None:
    world = lti_world
    seeded = seeded_practice_link(world, "Course one practice", items=3, score_maximum=10)
    with world.db.session() as s:
        first = s.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == seeded.link_id)
        ).one()
        first_pk, first_lineitem = first.id, first.lineitem_url
        assert first.activity_id == seeded.course.activity_id and first_lineitem
    # A student of course 2 on the same platform launches with course 1's link id, and even
    # names course 1's activity in custom (a copied link).
    world.store.next_launch(LaunchTweaks(
        set_fields={(C.CONTEXT, "id"): "course-2", (C.AGS, "lineitem"): "https://x.example/2"},
        set_claims={C.CUSTOM: {"activity_id": str(seeded.course.activity_id)}},
    ))
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user="103", link=seeded.link_id)
    assert r.status_code == 303, r.text[:300]
    with world.db.session() as s:
        launch = s.scalars(select(Launch).where(Launch.launch_id == _launch_id(r))).one()
        own = s.get(ResourceLink, launch.resource_link_id)
        assert own is not None and own.id != first_pk
        assert own.context_id == launch.context_id and own.activity_id is None
        assert own.lineitem_url == "https://x.example/2"
        untouched = s.get(ResourceLink, first_pk)
        assert untouched is not None and untouched.lineitem_url == first_lineitem
    # So course 1's practice (and with it course 1's answers and teacher pages) stays shut.
    page = browser.get(world.metis.url + r.headers["Location"])
    assert page.status_code == 404 and "no practice set up yet" in page.text
    assert "Course one practice" not in page.text
    # Course 1's own students still practise it.
    again = login_and_launch(world.browser(), world.platform.url, user="101", link=seeded.link_id)
    with world.db.session() as s:
        launch = s.scalars(select(Launch).where(Launch.launch_id == _launch_id(again))).one()
        assert launch.resource_link_id == first_pk


def test_another_deployments_link_id_gets_its_own_record(lti_world: LtiWorld) -> None:
    world = lti_world
    seeded = seeded_practice_link(world, "Deployment one", items=3)
    with world.db.session() as s:
        s.add(Deployment(platform_id=world.platform_pk, deployment_id="2", active=True))
    world.store.next_launch(LaunchTweaks(set_claims={C.DEPLOYMENT_ID: "2"}))
    r = login_and_launch(world.browser(), world.platform.url, user="103", link=seeded.link_id)
    assert r.status_code == 303, r.text[:300]
    with world.db.session() as s:
        launch = s.scalars(select(Launch).where(Launch.launch_id == _launch_id(r))).one()
        rows = s.scalars(
            select(ResourceLink).where(ResourceLink.resource_link_id == seeded.link_id)
        ).all()
        assert len(rows) == 2
        own = s.get(ResourceLink, launch.resource_link_id)
        assert own is not None and own.deployment_id == launch.deployment_id
        assert own.activity_id is None


# --- tool-wide admin ---------------------------------------------------------------------------


def test_a_course_administrator_gets_the_teacher_pages_not_the_admin_pages(
    lti_world: LtiWorld,
) -> None:
    world = lti_world
    link = world.store.add_link("Roles")
    world.store.next_launch(LaunchTweaks(set_claims={C.ROLES: [MEMBERSHIP_ADMIN]}))
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user="201", link=link.id)
    assert r.status_code == 303 and r.headers["Location"].startswith("/teacher/")
    launch_id = _launch_id(r)
    admin = browser.get(f"{world.metis.url}/admin/{launch_id}", allow_redirects=False)
    assert admin.status_code == 403 and "needs the admin role" in admin.text
    probe = browser.get(f"{world.metis.url}/probe/instructor/{launch_id}")
    assert probe.status_code == 200 and probe.json()["role"] == "instructor"

    world.store.next_launch(LaunchTweaks(set_claims={C.ROLES: [INSTITUTION_ADMIN]}))
    r = login_and_launch(browser, world.platform.url, user="301", link=link.id)
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/")
    assert browser.get(world.metis.url + r.headers["Location"]).status_code == 200


# --- claims of the wrong JSON type, end to end ----------------------------------------------------


@pytest.mark.parametrize(
    ("deep", "tweaks", "claim"),
    [
        (False, {"set_claims": {C.RESOURCE_LINK: "rl-1"}}, C.RESOURCE_LINK),
        (False, {"set_claims": {C.RESOURCE_LINK: ["rl-1"]}}, C.RESOURCE_LINK),
        (True, {"set_claims": {C.DL_SETTINGS: "settings"}}, C.DL_SETTINGS),
        (True, {"set_claims": {C.DL_SETTINGS: [{}]}}, C.DL_SETTINGS),
        (False, {"set_fields": {(C.AGS, "lineitem"): {"url": "x"}}}, f"{C.AGS} (lineitem)"),
    ],
    ids=["link-string", "link-list", "dl-string", "dl-list", "lineitem-object"],
)
def test_a_claim_of_the_wrong_type_gets_a_400_naming_it_and_nothing_is_stored(
    lti_world: LtiWorld, deep: bool, tweaks: dict[str, Any], claim: str
) -> None:
    world = lti_world
    link = None if deep else world.store.add_link("Types", score_maximum=5).id
    world.store.next_launch(LaunchTweaks(**tweaks))
    user = "201" if deep else "101"
    r = login_and_launch(world.browser(), world.platform.url, user=user, link=link,
                         deep_link=deep)
    assert r.status_code == 400, r.text[:300]
    assert f"claim {claim}" in r.text
    assert _launch_count(world) == 0
    with world.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ResourceLink)) == 0
