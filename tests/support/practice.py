"""A demo-LMS link whose activity practises a freshly seeded bank: the setup that the student,
cookie-less and story tests share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import select, update

from lti_tool.core.db.models import Activity, Launch, ResourceLink
from lti_tool.devkit.lti_client import login_and_launch
from tests.support.course import Course, seed_course
from tests.support.lti_world import LtiWorld


@dataclass(frozen=True)
class SeededLink:
    link_id: str
    browser: requests.Session  # the session that made the first launch
    page_url: str  # where that launch landed (the student page)
    course: Course
    user_id: int


def seeded_practice_link(world: LtiWorld, title: str, *, items: int, user: str = "102",
                         score_maximum: float | None = None,
                         activity: dict[str, Any] | None = None) -> SeededLink:
    """Add a link to the demo LMS, launch it once as `user` (which creates the course rows),
    then point the link at a seeded activity of that course (`activity`: extra column values)."""
    link = world.store.add_link(title, score_maximum=score_maximum)
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user=user, link=link.id)
    assert r.status_code == 303, r.text
    page_url = world.metis.url + r.headers["Location"]
    course = seed_course(world.db, platform_id=world.platform_pk, items=items)
    with world.db.session() as s:
        launch = s.scalar(select(Launch).where(Launch.launch_id == page_url.rsplit("/", 1)[1]))
        assert launch is not None and launch.user_id is not None
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(context_id=launch.context_id, **(activity or {})))
        s.execute(update(ResourceLink).where(ResourceLink.id == launch.resource_link_id)
                  .values(activity_id=course.activity_id))
        user_id = launch.user_id
    return SeededLink(link.id, browser, page_url, course, user_id)
