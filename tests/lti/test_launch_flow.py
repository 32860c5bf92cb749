"""Full login + launch flows against the demo platform, over HTTPS, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.db.models import Context, Launch, ResourceLink, User
from tests.lti.conftest import LtiWorld
from tests.lti.flows import login_and_launch


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
