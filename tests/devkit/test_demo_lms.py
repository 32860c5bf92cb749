"""The demo LMS's pieces the story needs, over HTTPS with real tokens: PUT on a line item
(column management), the gradebook page, and the course page's buttons."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import redis
import requests

from lti_tool.devkit.lti_client import forms, login_and_launch
from lti_tool.lms import ags
from lti_tool.lms.ags import LINEITEM_TYPE, Score, post_score
from lti_tool.lms.services import ServiceContext, service_context
from lti_tool.lti import claims as C
from tests.support.lti_world import LtiWorld


def services(world: LtiWorld) -> ServiceContext:
    client = redis.Redis.from_url(world.settings.redis_url)
    return service_context(world.db, client, world.settings, world.platform_pk)


def bearer(world: LtiWorld, scope: str) -> dict[str, str]:
    ctx = services(world)
    return {"Authorization": "Bearer " + ctx.tokens.get(ctx.registration, [scope], ctx.signer)}


def lineitem_url(world: LtiWorld, item_id: str) -> str:
    return f"{world.platform.url}/ags/{world.store.context_id}/lineitems/{item_id}/lineitem" \
           "?type_id=1"


def put(world: LtiWorld, url: str, body: object, *, scope: str = C.SCOPE_LINEITEM,
        content_type: str = LINEITEM_TYPE) -> requests.Response:
    headers = {**bearer(world, scope), "Content-Type": content_type}
    return world.browser().put(url, data=json.dumps(body), headers=headers)


def test_put_changes_the_column_and_answers_it(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Week 1", score_maximum=10)
    assert link.lineitem_id is not None
    url = lineitem_url(lti_world, link.lineitem_id)
    assert "PUT" in lti_world.browser().options(url).headers["Allow"]

    r = put(lti_world, url, {"label": "Week 1: fractions", "scoreMaximum": 25,
                             "endDateTime": "2030-03-01T23:59:59Z", "resourceLinkId": link.id})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == LINEITEM_TYPE
    body = r.json()
    assert (body["label"], body["scoreMaximum"]) == ("Week 1: fractions", 25)
    assert body["endDateTime"] == "2030-03-01T23:59:59Z"
    assert body["resourceLinkId"] == link.id and body["id"] == url
    column = lti_world.store.lineitems[link.lineitem_id]
    assert (column.label, column.score_maximum) == ("Week 1: fractions", 25.0)
    assert column.end_date_time == "2030-03-01T23:59:59Z"

    # A PUT replaces the line item: without endDateTime the due date is gone.
    r = put(lti_world, url, {"label": "Week 1", "scoreMaximum": 25})
    assert r.status_code == 200 and "endDateTime" not in r.json()
    assert column.end_date_time is None


def test_metis_updates_the_column_through_put(lti_world: LtiWorld) -> None:
    item = lti_world.store.add_lineitem("Quiz", 10, resource_id="7", tag="metis")
    url = lineitem_url(lti_world, item.id)
    stored = ags.update_lineitem(services(lti_world), url, label="Quiz 2", score_maximum=12,
                                 end_date_time="2031-01-31T23:59:59Z")
    assert (stored["label"], stored["scoreMaximum"], stored["tag"]) == ("Quiz 2", 12, "metis")
    assert (item.label, item.score_maximum, item.resource_id) == ("Quiz 2", 12.0, "7")
    assert item.end_date_time == "2031-01-31T23:59:59Z"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"scope": C.SCOPE_LINEITEM_READONLY}, 401, "invalid token"),
        ({"scope": C.SCOPE_SCORE}, 401, "invalid token"),
        ({"content_type": "application/json"}, 415, LINEITEM_TYPE),
        ({"body": ["not", "an", "object"]}, 400, "JSON object"),
        ({"body": {"scoreMaximum": 5}}, 400, "label is required"),
        ({"body": {"label": "X", "scoreMaximum": 0}}, 400, "scoreMaximum must be a number"),
        ({"body": {"label": "X", "scoreMaximum": "5"}}, 400, "scoreMaximum must be a number"),
        ({"body": {"label": "X", "scoreMaximum": 5, "endDateTime": "next week"}}, 400,
         "endDateTime must be ISO 8601"),
        ({"body": {"label": "X", "scoreMaximum": 5, "endDateTime": "2030-01-01T10:00"}}, 400,
         "time zone"),
    ],
)
def test_put_refusals_change_nothing(
    lti_world: LtiWorld, change: dict[str, object], status: int, message: str
) -> None:
    item = lti_world.store.add_lineitem("Quiz", 10)
    body = change.get("body", {"label": "Changed", "scoreMaximum": 99})
    r = put(lti_world, lineitem_url(lti_world, item.id), body,
            scope=str(change.get("scope", C.SCOPE_LINEITEM)),
            content_type=str(change.get("content_type", LINEITEM_TYPE)))
    assert r.status_code == status
    assert message in r.json()["error"]
    assert (item.label, item.score_maximum) == ("Quiz", 10.0)


def test_put_without_a_token_or_on_an_unknown_item(lti_world: LtiWorld) -> None:
    item = lti_world.store.add_lineitem("Quiz", 10)
    browser = lti_world.browser()
    r = browser.put(lineitem_url(lti_world, item.id), json={"label": "X", "scoreMaximum": 1},
                    headers={"Content-Type": LINEITEM_TYPE})
    assert r.status_code == 401
    r = put(lti_world, lineitem_url(lti_world, "999"), {"label": "X", "scoreMaximum": 1})
    assert r.status_code == 404


class _Table(HTMLParser):
    """The gradebook table's cells, row by row (header row first), as plain text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def gradebook(world: LtiWorld) -> dict[str, dict[str, str]]:
    """Student -> column header -> cell text."""
    r = world.browser().get(world.platform.url + "/gradebook")
    assert r.status_code == 200
    table = _Table()
    table.feed(r.text)
    header, *rows = table.rows
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def test_gradebook_shows_the_latest_score_per_student_and_column(lti_world: LtiWorld) -> None:
    empty = lti_world.browser().get(lti_world.platform.url + "/gradebook").text
    assert "No graded activity yet." in empty
    quiz = lti_world.store.add_link("Quiz", score_maximum=10)
    lti_world.store.add_link("Essay", score_maximum=4)
    assert quiz.lineitem_id is not None
    url = lineitem_url(lti_world, quiz.lineitem_id)
    ctx, now = services(lti_world), datetime.now(UTC)
    # The LMS graded each score before the next one's timestamp (else Moodle answers 409).
    lti_world.store.clock = lambda: (now - timedelta(minutes=1)).timestamp()
    post_score(ctx, url, Score("101", 1, 4, now - timedelta(seconds=5)))
    post_score(ctx, url, Score("101", 3, 4, now, comment="3 of 4 skills mastered"))
    post_score(ctx, url, Score("102", 2, 3, now))

    book = gradebook(lti_world)
    # Learners only (Tess and Sam have no grade); the Quiz column is out of its 10 points.
    assert list(book) == ["Ada Learner", "Ben Learner", "Cleo Learner"]
    quiz_col, essay_col = "Quiz out of 10", "Essay out of 4"
    assert book["Ada Learner"] == {quiz_col: "7.5 / 10", essay_col: "—"}  # the latest score
    assert book["Ben Learner"][quiz_col] == "6.67 / 10"
    assert book["Cleo Learner"] == {quiz_col: "—", essay_col: "—"}
    page = lti_world.browser().get(lti_world.platform.url + "/gradebook").text
    assert "3 of 4 skills mastered" in page  # the comment, on hover


def test_course_page_offers_each_person_a_launch(lti_world: LtiWorld) -> None:
    store = lti_world.store
    empty = lti_world.browser().get(lti_world.platform.url + "/").text
    assert "No activity yet" in empty
    link = store.add_link("Fractions", score_maximum=10)
    page = lti_world.browser().get(lti_world.platform.url + "/").text
    launches = [f for f in forms(page, lti_world.platform.url + "/")
                if f.action.endswith("/launch")]
    by_user = {f.fields["user"]: f for f in launches if f.fields.get("link") == link.id}
    assert sorted(by_user) == ["101", "102", "103", "201", "301"]  # one button per person
    assert all(f.fields["storage_target"] == "post_message_forwarding" for f in launches)
    (deep,) = [f for f in launches if f.fields.get("deep_link") == "1"]
    assert deep.fields["user"] == "201"
    for text in ("Open as a student", "Teacher tools (Tess Teacher)", "Admin pages (Sam Admin)",
                 "Add a Metis activity (as Tess Teacher)", "Graded out of 10",
                 'href="/gradebook"', 'iframe name="tool"'):
        assert text in page, text
    # The buttons lead to the pages they promise.
    for user, landing in (("101", "/student/"), ("201", "/teacher/"), ("301", "/admin/")):
        r = _launch(lti_world, by_user[user].fields)
        assert r.status_code == 303 and landing in r.headers["Location"], (user, r.text[:300])


def _launch(world: LtiWorld, fields: dict[str, str]) -> requests.Response:
    return login_and_launch(world.browser(), world.platform.url, user=fields["user"],
                            link=fields["link"])
