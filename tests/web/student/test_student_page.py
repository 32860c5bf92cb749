"""The student page after a real launch: CSRF-protected answer POST, server grading, state."""

from __future__ import annotations

import re

from sqlalchemy import select

from lti_tool.core.db.models import Answer, Item, Launch, ResourceLink
from lti_tool.devkit.lti_client import login_and_launch
from tests.support.course import seed_course
from tests.support.lti_world import LtiWorld


def test_learner_answers_on_the_page(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Fractions", score_maximum=10)
    browser = lti_world.browser()
    r = login_and_launch(browser, lti_world.platform.url, user="101", link=link.id)
    assert r.status_code == 303, r.text
    page_url = lti_world.metis.url + r.headers["Location"]
    launch_id = page_url.rsplit("/", 1)[1]
    course = seed_course(lti_world.db, platform_id=lti_world.platform_pk)
    with lti_world.db.session() as s:
        launch = s.scalar(select(Launch).where(Launch.launch_id == launch_id))
        assert launch is not None
        s.get(ResourceLink, launch.resource_link_id).activity_id = course.activity_id  # type: ignore[union-attr]
        user_id = launch.user_id
        secret = s.get(Item, course.item_ids[0]).answer  # type: ignore[union-attr]
    page = browser.get(page_url)
    assert page.status_code == 200 and "What is 1 + 1?" in page.text
    assert str(secret) not in page.text  # the answer key never reaches the browser
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer_url = f"{page_url}/answer"
    no_csrf = browser.post(answer_url, data={"item_id": course.item_ids[0], "choice": "0"},
                           headers={"Referer": page_url})
    assert no_csrf.status_code == 400
    r = browser.post(answer_url, headers={"Accept": "application/json", "Referer": page_url},
                     data={"csrf_token": token.group(1), "item_id": course.item_ids[0],
                           "choice": "0", "correct": "0"})
    assert r.status_code == 202, r.text
    assert r.json()["correct"] is True and r.json()["queued"] is True
    bad = browser.post(answer_url, headers={"Accept": "application/json", "Referer": page_url},
                       data={"csrf_token": token.group(1), "item_id": "abc"})
    assert bad.status_code == 400 and "which question" in bad.json()["error"]
    state = browser.get(f"{page_url}/state").json()
    assert state["pending"] == 1 and len(state["items"]) == 3  # the activity's set_size
    assert all("answer" not in i for i in state["items"])
    with lti_world.db.session() as s:
        stored = s.scalars(select(Answer).where(Answer.user_id == user_id)).one()
        assert stored.correct is True
    other = lti_world.browser().get(page_url)
    assert other.status_code == 403  # another browser cannot open this launch's page
