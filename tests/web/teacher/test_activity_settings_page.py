"""The activity settings page after real LTI launches: an Instructor changes the settings of
the activity behind the link, and the gradebook column (AGS line item) follows through a PUT
on the demo platform; learners are refused, links without an activity are not found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select, update

from lti_tool.core.db.models import Activity, ResourceLink
from lti_tool.devkit.lti_client import Form, first_form, login_and_launch, submit
from tests.support.lti_world import LtiWorld


@dataclass
class Linked:
    browser: requests.Session
    page: str  # the settings page of the Instructor's launch
    activity_id: int
    lineitem_id: str


def _launch(world: LtiWorld, browser: requests.Session, user: str, link: str) -> str:
    r = login_and_launch(browser, world.platform.url, user=user, link=link)
    assert r.status_code == 303, r.text
    launch_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    return f"{world.metis.url}/teacher/{launch_id}/activity"


@pytest.fixture()
def linked(lti_world: LtiWorld) -> Linked:
    """An activity added through a real deep-linking round trip, opened by its Instructor."""
    world = lti_world
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user="201", deep_link=True)
    location = urljoin(world.metis.url, r.headers["Location"])
    form = first_form(browser.get(location).text, location)
    form.fields.pop("skills", None)
    form.fields.pop("categories", None)
    answer = submit(browser, form, title="Week 1", points="10", bank="demo")
    assert answer.status_code == 200, answer.text
    assert submit(browser, first_form(answer.text)).status_code == 200
    link = next(iter(world.store.links.values()))
    assert link.lineitem_id is not None
    page = _launch(world, browser, "201", link.id)
    with world.db.session() as s:
        row = s.scalars(select(ResourceLink).where(ResourceLink.resource_link_id == link.id)).one()
        assert row.activity_id is not None and row.lineitem_url
        activity_id = row.activity_id
    return Linked(browser, page, activity_id, link.lineitem_id)


CSRF = re.compile(r'(?:name="csrf_token" value=|"csrf": )"([^"]+)"')
SELECT = re.compile(r'<select[^>]*name="(?P<name>[^"]+)"[^>]*>(?P<options>.*?)</select>', re.S)
SELECTED = re.compile(r'<option value="([^"]*)" selected>')


def settings_form(linked: Linked) -> Form:
    """The settings form as a browser sends it untouched: the flows' parser reads inputs only,
    so the selected options are added here, and unticked boxes are left out."""
    page = linked.browser.get(linked.page)
    assert page.status_code == 200, page.text
    form = first_form(page.text, linked.page)
    form.fields.pop("skills", None)
    form.fields.pop("categories", None)
    for select_tag in SELECT.finditer(page.text):
        chosen = SELECTED.search(select_tag["options"])
        assert chosen is not None, select_tag["name"]
        form.fields[select_tag["name"]] = chosen.group(1)
    return form


def save(linked: Linked, **changes: Any) -> requests.Response:
    r = submit(linked.browser, settings_form(linked), **changes)
    if r.status_code != 303:
        return r
    assert urljoin(linked.page, r.headers["Location"]) == linked.page  # back to the page
    return linked.browser.get(linked.page)


def activity(world: LtiWorld, activity_id: int) -> Activity:
    with world.db.session() as s:
        row = s.get(Activity, activity_id)
        assert row is not None
        s.expunge(row)
        return row


def test_the_page_shows_the_current_settings(lti_world: LtiWorld, linked: Linked) -> None:
    form = settings_form(linked)
    assert form.fields["title"] == "Week 1" and form.fields["points"] == "10"
    assert form.fields["set_size"] == "5" and form.fields["band_low"] == "60"
    assert form.fields["mastery_threshold"] == "80" and form.fields["csrf_token"]
    page = linked.browser.get(linked.page).text
    assert '<option value="demo" selected>' in page
    assert '<option value="mastery" selected>' in page


def test_saving_changes_the_activity_and_the_gradebook_column(
    lti_world: LtiWorld, linked: Linked
) -> None:
    page = save(linked, title="Week 1: fractions", points="30", due="2027-03-01",
                grading="best_set", set_size="6", band_low="65", band_high="85")
    assert "Your settings were saved." in page.text
    assert "The gradebook column in your course was updated too." in page.text
    row = activity(lti_world, linked.activity_id)
    assert row.title == "Week 1: fractions" and row.points == 30
    assert row.settings["grading"] == "best_set" and row.settings["set_size"] == 6
    assert row.settings["band"] == [0.65, 0.85] and row.settings["due"] == "2027-03-01"
    # The demo platform's own line item, changed by Metis's PUT: the due date becomes the
    # end of that day in UTC, and the link the column belongs to is kept.
    column = lti_world.store.lineitems[linked.lineitem_id]
    assert (column.label, column.score_maximum) == ("Week 1: fractions", 30.0)
    assert column.end_date_time == "2027-03-01T23:59:59Z"
    assert column.resource_link_id == next(iter(lti_world.store.links))
    # The form shows what was saved.
    assert 'value="Week 1: fractions"' in page.text and 'value="65"' in page.text


def test_settings_outside_the_gradebook_leave_the_column_alone(
    lti_world: LtiWorld, linked: Linked
) -> None:
    lti_world.store.lineitems[linked.lineitem_id].label = "Renamed in the LMS"
    page = save(linked, set_size="9")
    assert "Your settings were saved." in page.text and "gradebook column" not in page.text
    assert activity(lti_world, linked.activity_id).settings["set_size"] == 9
    assert lti_world.store.lineitems[linked.lineitem_id].label == "Renamed in the LMS"


def test_a_failing_lms_keeps_the_settings_and_says_so(
    lti_world: LtiWorld, linked: Linked
) -> None:
    with lti_world.db.session() as s:
        missing = f"{lti_world.platform.url}/ags/{lti_world.store.context_id}/lineitems/999/" \
                  "lineitem?type_id=1"
        s.execute(update(ResourceLink).where(ResourceLink.activity_id == linked.activity_id)
                  .values(lineitem_url=missing))
    page = save(linked, points="50")
    assert "Your settings were saved." in page.text
    assert "The gradebook column in your course could not be updated (the LMS answered 404)" \
        in page.text
    assert activity(lti_world, linked.activity_id).points == 50
    column = lti_world.store.lineitems[linked.lineitem_id]
    assert (column.label, column.score_maximum) == ("Week 1", 10.0)


def test_wrong_values_are_refused_per_field(lti_world: LtiWorld, linked: Linked) -> None:
    r = save(linked, title="", points="lots", goal="0")
    assert r.status_code == 400
    for message in ("Please give the activity a title.", "Maximum points must be a number.",
                    "The completion goal must be a whole number from 1 to 1000."):
        assert message in r.text
    row = activity(lti_world, linked.activity_id)
    assert row.title == "Week 1" and row.points == 10


def test_learners_and_links_without_an_activity_are_refused(
    lti_world: LtiWorld, linked: Linked
) -> None:
    link = next(iter(lti_world.store.links))
    learner = lti_world.browser()
    learner_page = _launch(lti_world, learner, "101", link)
    r = learner.get(learner_page)
    assert r.status_code == 403 and "instructor" in r.text
    # Even with a valid CSRF token of the learner's own session (from the student page).
    student_page = learner.get(learner_page.replace("/teacher/", "/student/").removesuffix(
        "/activity")).text
    token = CSRF.search(student_page)
    assert token is not None
    r = learner.post(learner_page, data={"csrf_token": token.group(1), "title": "Mine now"},
                     headers={"Referer": learner_page})
    assert r.status_code == 403
    assert activity(lti_world, linked.activity_id).title == "Week 1"
    # A link the platform made without Metis's activity (no custom activity_id).
    bare = lti_world.store.add_link("Plain link", score_maximum=5)
    page = _launch(lti_world, linked.browser, "201", bare.id)
    r = linked.browser.get(page)
    assert r.status_code == 404 and "no Metis practice activity" in r.text
