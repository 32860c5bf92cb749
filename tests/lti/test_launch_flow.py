"""Full login + launch flows against the demo platform, over HTTPS, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from lti_tool.core.db.models import Context, Deployment, Launch, ResourceLink, User
from lti_tool.devkit.lti_client import login_and_launch
from tests.support.lti_world import LtiWorld


@pytest.mark.parametrize(
    ("user", "landing", "role"),
    [
        ("101", "/student/", "learner"),
        ("201", "/teacher/", "instructor"),
        ("301", "/admin/", "admin"),
    ],
)
def test_resource_launch_redirects_by_role(
    lti_world: LtiWorld, user: str, landing: str, role: str
) -> None:
    link = lti_world.store.add_link("Fractions", score_maximum=10)
    browser = lti_world.browser()
    r = login_and_launch(browser, lti_world.platform.url, user=user, link=link.id)
    assert r.status_code == 303, r.text
    location = r.headers["Location"]
    assert landing in location
    launch_id = location.rsplit("/", 1)[1]
    with lti_world.db.session() as s:
        launch = s.scalar(select(Launch).where(Launch.launch_id == launch_id))
        assert launch is not None and launch.role == role
        member = lti_world.store.members[user]
        db_user = s.get(User, launch.user_id)
        assert db_user is not None and db_user.sub == user and db_user.name == member.name
        ctx = s.get(Context, launch.context_id)
        assert ctx is not None and ctx.context_id == lti_world.store.context_id
        assert ctx.memberships_url and ctx.memberships_url.endswith("/memberships")
        rl = s.get(ResourceLink, launch.resource_link_id)
        assert rl is not None and rl.resource_link_id == link.id
        assert rl.lineitem_url and "type_id=1" in rl.lineitem_url
    # The session was rotated and carries the launch: the CSP lists the platform's origin.
    assert lti_world.platform.url in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_initiation_by_get(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Decimals")
    r = login_and_launch(
        lti_world.browser(), lti_world.platform.url, user="101", link=link.id, login_method="get"
    )
    assert r.status_code == 303, r.text
    assert "/student/" in r.headers["Location"]


def _launch_id(response: object) -> str:
    return str(response.headers["Location"]).rsplit("/", 1)[1]  # type: ignore[attr-defined]


def test_roles_and_browsers_are_kept_apart(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Fractions")
    learner = lti_world.browser()
    learner_launch = _launch_id(
        login_and_launch(learner, lti_world.platform.url, user="101", link=link.id)
    )
    base = lti_world.metis.url
    ok = learner.get(f"{base}/probe/learner/{learner_launch}")
    assert ok.status_code == 200 and ok.json()["role"] == "learner"
    # A learner cannot open the teacher page of their own launch.
    denied = learner.get(f"{base}/probe/instructor/{learner_launch}")
    assert denied.status_code == 403 and "needs the instructor role" in denied.text

    teacher = lti_world.browser()
    teacher_launch = _launch_id(
        login_and_launch(teacher, lti_world.platform.url, user="201", link=link.id)
    )
    assert teacher.get(f"{base}/probe/instructor/{teacher_launch}").status_code == 200
    # Another browser cannot use a launch it did not make, even a teacher's.
    stolen = teacher.get(f"{base}/probe/learner/{learner_launch}")
    assert stolen.status_code == 403 and "did not make" in stolen.text
    assert lti_world.browser().get(f"{base}/probe/learner/{teacher_launch}").status_code == 403
    # Both launches of this browser stay usable after the session was rotated by the second.
    learner_teacher_again = _launch_id(
        login_and_launch(learner, lti_world.platform.url, user="101", link=link.id)
    )
    assert learner.get(f"{base}/probe/learner/{learner_launch}").status_code == 200
    assert learner.get(f"{base}/probe/learner/{learner_teacher_again}").status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_same_context_id_on_two_platforms_stays_apart(lti_world: LtiWorld) -> None:
    from lti_tool.core.db.models import Deployment, Platform, PlatformStatus
    from lti_tool.lti import claims as C
    from lti_tool.lti.claims_schema import parse_claims
    from lti_tool.lti.records import record_launch

    claims = parse_claims({
        "iss": "https://either.example",
        "aud": "c",
        "exp": 2,
        "iat": 1,
        "sub": "101",
        C.MESSAGE_TYPE: C.RESOURCE_LINK_REQUEST,
        C.ROLES: [],
        C.CONTEXT: {"id": "course-101"},
        C.RESOURCE_LINK: {"id": "rl-1"},
    })
    with lti_world.db.session() as s:
        other = Platform(
            issuer="https://other.example",
            client_id="c",
            auth_login_url="https://o/a",
            auth_token_url="https://o/t",
            key_set_url="https://o/k",
            status=PlatformStatus.active,
        )
        s.add(other)
        s.flush()
        deps: list[int] = []
        for pid in (lti_world.platform_pk, other.id):
            dep = Deployment(platform_id=pid, deployment_id="two-platforms", active=True)
            s.add(dep)
            s.flush()
            deps.append(dep.id)
        a = record_launch(
            s,
            launch_id="a",
            platform_id=lti_world.platform_pk,
            deployment_pk=deps[0],
            claims=claims,
        )
        b = record_launch(
            s, launch_id="b", platform_id=other.id, deployment_pk=deps[1], claims=claims
        )
        assert a.context_id != b.context_id
        assert a.user_id != b.user_id
        assert a.resource_link_id != b.resource_link_id


def test_simultaneous_first_launches_of_one_user(lti_world: LtiWorld) -> None:
    from concurrent.futures import ThreadPoolExecutor

    link = lti_world.store.add_link("Race")

    def one(_: int) -> int:
        r = login_and_launch(lti_world.browser(), lti_world.platform.url, user="103", link=link.id)
        return r.status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, range(4)))
    assert statuses == [303] * 4
    with lti_world.db.session() as s:
        assert len(list(s.scalars(select(User).where(User.sub == "103")))) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deployment_last_seen_is_kept_to_the_minute(lti_world: LtiWorld) -> None:
    """A launch stamps its deployment's "last seen" for the admin's list, but not again within
    the minute: one write less per launch in a class launching at once."""
    link = lti_world.store.add_link("Seen", score_maximum=10)

    def launch_and_read() -> datetime | None:
        r = login_and_launch(lti_world.browser(), lti_world.platform.url, user="101",
                             link=link.id)
        assert r.status_code == 303, r.text
        with lti_world.db.session() as s:
            return s.scalar(select(Deployment.last_seen_at).where(
                Deployment.deployment_id == lti_world.store.deployment_id))

    first = launch_and_read()
    assert first is not None
    assert launch_and_read() == first  # within the minute: not written again
    with lti_world.db.session() as s:
        s.execute(update(Deployment).where(
            Deployment.deployment_id == lti_world.store.deployment_id).values(
            last_seen_at=first - timedelta(minutes=2)))
    later = launch_and_read()
    assert later is not None and later > first
