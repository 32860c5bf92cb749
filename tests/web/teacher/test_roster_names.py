"""When the LMS shares no names (Moodle's privacy "Never"), the teacher pages say whose row it
is by the LMS's id, and that the name was not shared: never a bare id."""

from __future__ import annotations

import re

from sqlalchemy import select

from lti_tool.core.db.models import User
from lti_tool.lms.roster import ROSTER_KEY
from tests.support.lti_world import LtiWorld
from tests.support.teacher_pages import launch, table_by_caption

NOT_SHARED = "(name not shared by the LMS)"


def test_rows_say_student_id_and_that_the_name_was_not_shared(lti_world: LtiWorld) -> None:
    world = lti_world
    world.store.share_names = False  # launches and the NRPS roster carry no names
    link = world.store.add_link("Fractions", score_maximum=10)
    launch(world, world.browser(), "101", link.id)
    browser = world.browser()
    page_url = launch(world, browser, "201", link.id)
    html = browser.get(page_url).text
    roster = table_by_caption(html, "Students, why")
    learners = [row for row in roster[1:] if row]
    assert learners, roster
    names = [row[0][0] for row in learners]
    # Every learner of the demo course, the one who launched included, by id with the note.
    assert f"Student 101 {NOT_SHARED}" in names
    assert all(re.fullmatch(rf"Student \w+ {re.escape(NOT_SHARED)}", n) for n in names), names
    with world.db.session() as s:
        ada = s.scalars(select(User).where(User.sub == "101")).one()
        assert ada.name is None
        ada_id = ada.id
    detail = browser.get(f"{page_url}/students/{ada_id}").text
    assert f"<h1>Student 101 {NOT_SHARED}</h1>" in detail
    # The LMS shares names again: the roster (re-read once its cache is dropped) shows them.
    world.store.share_names = True
    cache = world.app.extensions["metis.redis"]
    cache.delete(*cache.keys(ROSTER_KEY.split("{")[0] + "*"))
    again = [row[0][0] for row in
             table_by_caption(browser.get(page_url).text, "Students, why")[1:] if row]
    assert NOT_SHARED not in " ".join(again) and "Ada Learner" in " ".join(again), again
