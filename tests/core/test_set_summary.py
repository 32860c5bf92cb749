"""After a set: a summary of the set just finished (right of answered, per skill) until the
new set's first answer; and "done" once the score the gradebook gets is the full points."""

from __future__ import annotations

import redis
from sqlalchemy import update

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity
from lti_tool.core.practice.page_state import page_state, place_of
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers.pipeline import process_events


def _state(db: Database, course: Course) -> dict:
    with db.session() as s:
        place = place_of(s, course.platform_id, course.resource_link_id)
        assert place is not None
        return page_state(s, place, course.user_ids[0])


def _answer(db: Database, course: Course, client: redis.Redis, item_id: int,
            choice: str) -> None:
    event = store_answer(db, course.learner(0), item_id, {"choice": choice}).event_id
    process_events(db, client, RecordingEngine(), [event])


def test_summary_of_the_set_just_finished_then_done(
    db: Database, course: Course, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    with db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(settings={"set_size": 3, "grading": "fraction_correct"}))
    first = _state(db, course)
    assert first["last_set"] is None and first["position"] == 1 and first["size"] == 3
    assert first["progress"]["done"] is False
    ids = [i["item_id"] for i in first["items"]]
    for n, item_id in enumerate(ids):
        _answer(db, course, client, item_id, "0" if n < 2 else "1")  # right, right, wrong
    after = _state(db, course)
    assert after["set_id"] != first["set_id"] and after["position"] == 1
    summary = after["last_set"]
    assert summary["right"] == 2 and summary["answered"] == 3
    assert sorted((k["right"], k["answered"]) for k in summary["skills"]) == [(0, 1), (1, 1),
                                                                               (1, 1)]
    assert all(k["name"].startswith("skill ") for k in summary["skills"])
    assert after["progress"]["done"] is False  # 2 of 3 right: not the full points
    # The new set's first answer: the summary goes.
    _answer(db, course, client, after["items"][0]["item_id"], "0")
    assert _state(db, course)["last_set"] is None


def test_done_when_the_score_is_full(db: Database, course: Course, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    with db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(settings={"set_size": 3, "grading": "fraction_correct"}))
    item_id = _state(db, course)["items"][0]["item_id"]
    _answer(db, course, client, item_id, "0")
    state = _state(db, course)
    assert state["gradebook"]["given"] == state["gradebook"]["maximum"] == 10.0
    assert state["progress"]["done"] is True


def test_a_set_found_knows_its_start_without_a_second_query(
    db: Database, course: Course, redis_url: str
) -> None:
    """`set_at` joins the answer a set starts after; `started_after` then reads it from the
    session, and gives what its own query gives."""
    from sqlalchemy import event as sa_event

    from lti_tool.core.practice import sets

    client = redis.Redis.from_url(redis_url)
    with db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(settings={"set_size": 2}))
    for item_id in [i["item_id"] for i in _state(db, course)["items"]]:
        _answer(db, course, client, item_id, "0")  # the first set finished: a second one
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    with db.session() as s:
        row = sets.set_at(s, course.user_ids[0], course.activity_id)
        assert row is not None and row.event_id is not None
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            start = sets.started_after(s, row)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        assert seen == []
    with db.session() as s:  # a new session has no memo: the query
        fresh = s.get(type(row), row.id)
        assert fresh is not None and sets.started_after(s, fresh) == start > 0
