"""The teacher page after real Instructor launches: NRPS roster, reasons from stored answers,
passback status per student, a CSRF-protected resend; learners and other courses see nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import requests
from sqlalchemy import select, update

from lti_tool.core.answers.submit import Learner, store_answer
from lti_tool.core.db.models import (
    Activity,
    Deployment,
    PassbackStatus,
    Platform,
    PlatformStatus,
    ResourceLink,
    ScorePassback,
)
from lti_tool.devkit.demo_lms import PlatformStore, ToolEndpoints, create_platform_app
from tests.support.course import seed_course
from tests.support.engines import RecordingEngine
from tests.support.https import HttpsServer
from tests.support.lti_world import LtiWorld
from tests.support.teacher_pages import csrf, launch, launch_row
from workers.pipeline import process_events


@pytest.fixture()
def graded_course(lti_world: LtiWorld, redis_url: str) -> Iterator[dict[str, int]]:
    """Ada answered 3 questions of one skill wrong and 1 of another right; Ben has a score
    that failed to reach the gradebook. Everything via a real learner launch into the course."""
    world = lti_world
    link = world.store.add_link("Fractions", score_maximum=10)
    learner_page = launch(world, world.browser(), "101", link.id)
    row = launch_row(world, learner_page)
    course = seed_course(world.db, platform_id=world.platform_pk, items=9)
    with world.db.session() as s:
        # The seeded activity belongs to the launched course and link.
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(context_id=row.context_id))
        s.get(ResourceLink, row.resource_link_id).activity_id = course.activity_id  # type: ignore[union-attr]
    ben_page = launch(world, world.browser(), "102", link.id)
    ben = launch_row(world, ben_page)
    engine, client = RecordingEngine(), redis.Redis.from_url(redis_url)

    def answer(user_id: int, item: int, choice: str) -> str:
        who = Learner(world.platform_pk, course.deployment_id, row.context_id or 0,
                      course.activity_id, user_id, row.resource_link_id)
        return store_answer(world.db, who, course.item_ids[item], {"choice": choice}).event_id

    # The seed tags item i with "skill {(i + 1) % 3}": items 2, 5 and 8 are skill 0, item 0
    # skill 1. Each question is answered once (a second answer is refused).
    ada = row.user_id or 0
    events = [answer(ada, 2, "1"), answer(ada, 5, "1"), answer(ada, 8, "1")]  # skill 0, wrong
    events += [answer(ada, 0, "0")]  # skill 1, right
    events += [answer(ben.user_id or 0, 1, "0")]
    out = process_events(world.db, client, engine, events)
    assert len(out.processed) == len(events)
    with world.db.session() as s:
        ben_score = s.scalars(select(ScorePassback)
                              .where(ScorePassback.user_id == ben.user_id)).one()
        ben_score.status = PassbackStatus.failed
        ben_score.last_error = "score refused: HTTP 403"
        ben_id = ben_score.id
    yield {"ben_passback": ben_id, "context_id": row.context_id or 0}


def test_instructor_sees_roster_reasons_and_resends(
    lti_world: LtiWorld, graded_course: dict[str, int], redis_url: str
) -> None:
    world = lti_world
    link = next(iter(world.store.links))
    browser = world.browser()
    page_url = launch(world, browser, "201", link)
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    html = page.text
    # The roster is NRPS's (paged two members at a time): Cleo never answered, yet is listed;
    # the instructor is not a student row.
    for name in ("Ada Learner", "Ben Learner", "Cleo Learner"):
        assert f'<th scope="row">{name}</th>' in html
    assert '<th scope="row">Tess Teacher</th>' not in html
    ada_row = html.split('<th scope="row">Ada Learner</th>')[1].split("</tr>")[0]
    # Three wrong answers on skill 0, but four answers in all are too few to call her at risk.
    assert "too few answers to judge mastery yet (4 of 5 answers)" in ada_row
    assert "0 of 3 right" not in ada_row and "nothing flagged" in ada_row
    at_risk = html.split('id="at-risk-heading"')[1].split("</section>")[0]
    assert "Ada Learner" not in at_risk
    assert "at least 5 answers in an activity" in " ".join(at_risk.split())
    assert "skill 1: 100% of 1" in ada_row
    ben_row = html.split('<th scope="row">Ben Learner</th>')[1].split("</tr>")[0]
    assert "failed" in ben_row and "HTTP 403" in ben_row and "Resend" in ben_row
    cleo_row = html.split('<th scope="row">Cleo Learner</th>')[1].split("</tr>")[0]
    assert "no answers yet" in cleo_row and "no score yet" in cleo_row

    resend_url = f"{page_url}/passback/{graded_course['ben_passback']}/resend"
    refused = browser.post(resend_url, data={}, headers={"Referer": page_url})
    assert refused.status_code == 400  # no CSRF token
    client = redis.Redis.from_url(redis_url)
    queued_before = client.llen("passback")
    r = browser.post(resend_url, data={"csrf_token": csrf(html)},
                     headers={"Referer": page_url}, allow_redirects=False)
    assert r.status_code == 303
    with world.db.session() as s:
        row = s.get(ScorePassback, graded_course["ben_passback"])
        assert row is not None and row.status == PassbackStatus.pending
        assert row.last_error is None
    assert client.llen("passback") == queued_before + 1  # the passback task is on its queue
    after = browser.get(page_url).text
    assert "queued to be sent again" in after


def test_learner_is_refused(lti_world: LtiWorld, graded_course: dict[str, int]) -> None:
    link = next(iter(lti_world.store.links))
    browser = lti_world.browser()
    page_url = launch(lti_world, browser, "103", link)
    launch_id = page_url.rsplit("/", 1)[1]
    assert browser.get(f"{lti_world.metis.url}/teacher/{launch_id}").status_code == 403
    page = browser.get(page_url)
    r = browser.post(f"{lti_world.metis.url}/teacher/{launch_id}/passback/"
                     f"{graded_course['ben_passback']}/resend",
                     data={"csrf_token": csrf(page.text)}, headers={"Referer": page_url})
    assert r.status_code == 403


def test_other_context_sees_nothing_of_this_one(
    lti_world: LtiWorld, graded_course: dict[str, int]
) -> None:
    world = lti_world
    store = world.store
    store.context_id = "course-202"  # the same platform, another course
    link = store.add_link("Decimals", score_maximum=10)
    browser = world.browser()
    page_url = launch(world, browser, "201", link.id)
    assert launch_row(world, page_url).context_id != graded_course["context_id"]
    assert_sees_nothing(browser, page_url, graded_course["ben_passback"])


def test_other_platform_with_the_same_context_id_sees_nothing(
    lti_world: LtiWorld, graded_course: dict[str, int], tmp_path: object
) -> None:
    world = lti_world
    other = PlatformStore("https://placeholder", ToolEndpoints(
        login_url=f"{world.metis.url}/lti/login", launch_url=f"{world.metis.url}/lti/launch",
        jwks_url=f"{world.metis.url}/.well-known/jwks.json"))
    server = HttpsServer(create_platform_app(other), world.cert.parent)
    other.issuer = server.url  # same client_id and context id "course-101", another issuer
    with world.db.session() as s:
        row = Platform(name="Other LMS", issuer=other.issuer, client_id=other.client_id,
                       auth_login_url=f"{server.url}/auth", auth_token_url=f"{server.url}/token",
                       key_set_url=f"{server.url}/jwks", status=PlatformStatus.active)
        s.add(row)
        s.flush()
        s.add(Deployment(platform_id=row.id, deployment_id=other.deployment_id, active=True))
    server.start()
    try:
        link = other.add_link("Fractions", score_maximum=10)
        browser = world.browser()
        page_url = launch(world, browser, "201", link.id, platform_url=server.url)
        assert_sees_nothing(browser, page_url, graded_course["ben_passback"])
    finally:
        server.stop()


def assert_sees_nothing(browser: requests.Session, page_url: str, foreign_passback: int) -> None:
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    assert "skill 0" not in page.text and "HTTP 403" not in page.text
    assert "Resend" not in page.text and "failed" not in page.text
    r = browser.post(f"{page_url}/passback/{foreign_passback}/resend",
                     data={"csrf_token": csrf(page.text)}, headers={"Referer": page_url})
    assert r.status_code == 404
