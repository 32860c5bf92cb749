from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy import func, select

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    EventStatus,
    GradeEvent,
    PassbackStatus,
    PracticeSet,
    ScorePassback,
)
from lti_tool.core.practice import live as practice_cache
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers import batching
from workers.pipeline import process_events


@pytest.fixture()
def rclient(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def answer(db: Database, course: Course, student: int, item: int, right: bool) -> str:
    form = {"choice": "0" if right else "1"}
    return store_answer(db, course.learner(student), course.item_ids[item], form).event_id


def sets(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(PracticeSet)) or 0)


def test_batch_stores_sets_scores_and_publishes(
    db: Database, course: Course, engine: RecordingEngine, rclient: redis.Redis
) -> None:
    pubsub = rclient.pubsub()
    pubsub.subscribe(practice_cache.channel(course.user_ids[0], course.activity_id))
    assert pubsub.get_message(timeout=30)["type"] == "subscribe"  # type: ignore[index]
    e1 = answer(db, course, 0, 0, True)
    e2 = answer(db, course, 0, 1, False)
    e3 = answer(db, course, 1, 0, True)
    out = process_events(db, rclient, engine, [e1, e2, e3])
    # One batched call per round: whether e2 finishes a set depends on what e1 stored.
    assert engine.batches == [[e1, e3], [e2]]
    assert sorted(out.processed) == sorted([e1, e2, e3])
    assert len(out.passbacks) == 2  # one gradebook row (and one task) per student
    with db.session() as s:
        assert all(ev.status == EventStatus.processed for ev in s.scalars(select(GradeEvent)))
        rows = {r.user_id: r for r in s.scalars(select(ScorePassback))}
    assert rows[course.user_ids[0]].score_given == pytest.approx(5.0)  # 1 of 2 right, 10 points
    assert rows[course.user_ids[0]].event_id == e2
    assert rows[course.user_ids[1]].score_given == pytest.approx(10.0)
    cached = practice_cache.read(rclient, course.user_ids[0], course.activity_id)
    # The student keeps their first set; its feedback is as of their newest answer.
    assert cached is not None and cached["event_id"] is None and cached["as_of_event"] == e2
    msg = pubsub.get_message(timeout=30)
    assert msg is not None and json.loads(msg["data"])["as_of_event"] == e2


def test_a_page_update_never_replaces_a_newer_one(rclient: redis.Redis) -> None:
    """Two workers may publish a student's sets out of order (the one with the older answer
    committed first but publishes last): the cache and the open pages keep the newer."""
    pubsub = rclient.pubsub()
    pubsub.subscribe(practice_cache.channel(7, 3))
    assert pubsub.get_message(timeout=30)["type"] == "subscribe"  # type: ignore[index]
    assert practice_cache.publish(rclient, 7, 3, {"revision": "1.12"}, as_of_answer=12)
    assert not practice_cache.publish(rclient, 7, 3, {"revision": "1.11"}, as_of_answer=11)
    assert practice_cache.publish(rclient, 7, 3, {"revision": "1.12"}, as_of_answer=12)  # again
    cached = practice_cache.read(rclient, 7, 3)
    assert cached == {"revision": "1.12", "as_of_answer": 12}
    # A newer one marks the end of what the pages were sent.
    assert practice_cache.publish(rclient, 7, 3, {"revision": "2.13"}, as_of_answer=13)
    sent: list[str] = []
    while not sent or sent[-1] != "2.13":
        msg = pubsub.get_message(timeout=30)
        assert msg is not None
        sent.append(json.loads(msg["data"])["revision"])
    assert sent == ["1.12", "1.12", "2.13"]


def test_an_event_is_applied_once(
    db: Database, course: Course, engine: RecordingEngine, rclient: redis.Redis
) -> None:
    e1 = answer(db, course, 0, 0, True)
    first = process_events(db, rclient, engine, [e1])
    again = process_events(db, rclient, engine, [e1, e1])
    assert first.processed == [e1] and again.processed == [] and again.skipped == [e1, e1]
    assert sets(db) == 1 and len(engine.batches) == 1


def test_an_older_event_never_overwrites_a_newer_score(
    db: Database, course: Course, engine: RecordingEngine, rclient: redis.Redis
) -> None:
    e1 = answer(db, course, 0, 0, True)
    e2 = answer(db, course, 0, 1, False)
    process_events(db, rclient, engine, [e2])  # the newer one first (e.g. another worker)
    late = process_events(db, rclient, engine, [e1])
    assert late.processed == [e1] and late.passbacks == []
    with db.session() as s:
        row = s.scalars(select(ScorePassback)).one()
    assert row.event_id == e2 and row.score_given == pytest.approx(5.0)
    assert row.status == PassbackStatus.pending


def test_history_is_cut_at_the_event(
    db: Database, course: Course, engine: RecordingEngine, rclient: redis.Redis
) -> None:
    e1 = answer(db, course, 0, 0, True)
    answer(db, course, 0, 1, False)
    process_events(db, rclient, engine, [e1])
    with db.session() as s:
        ps = s.scalars(select(PracticeSet)).one()  # the first set, still being answered
        first = s.get(GradeEvent, e1)
        assert first is not None
    assert ps.feedback == {"answers": 1, "correct": 1, "as_of_answer": first.answer_id}


def test_batch_collects_waiting_events_and_respects_claims(
    db: Database, course: Course, rclient: redis.Redis
) -> None:
    ids = [answer(db, course, n % 2, n % 6, True) for n in range(5)]
    first = batching.collect(db, rclient, ids[0], "task-a", max_size=3, wait_ms=0)
    assert first[0] == ids[0] and len(first) == 3
    second = batching.collect(db, rclient, ids[1], "task-b", max_size=10, wait_ms=0)
    # The own event is always taken; events claimed by task-a are left to it.
    assert second[0] == ids[1]
    assert not set(second[1:]) & set(first)
    assert set(first) | set(second) == set(ids)
    batching.release(rclient, first, "task-a")
    assert rclient.get(batching.claim_key(first[2])) is None
    assert rclient.get(batching.claim_key(second[-1])) == b"task-b"


def test_two_first_scores_racing_for_the_gradebook_row_both_count(
    db: Database, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newer event's worker lost the race to create the student's gradebook row: its
    insert conflicts, and it uses the row the other made instead of giving up."""
    from lti_tool.core.gradebook import records
    older = answer(db, course, 0, 0, False)
    newer = answer(db, course, 0, 1, True)
    with db.session() as s:
        ev = s.get(GradeEvent, older)
        assert ev is not None
        assert records.record_score(s, ev) is not None  # the other worker's row
    real = records._score_row
    calls = {"n": 0}

    def late_first_look(session: object, ev: GradeEvent) -> ScorePassback | None:
        calls["n"] += 1  # the first look happened before the other worker committed
        return None if calls["n"] == 1 else real(session, ev)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "_score_row", late_first_look)
    with db.session() as s:
        ev = s.get(GradeEvent, newer)
        assert ev is not None
        row = records.record_score(s, ev)
        assert row is not None and row.event_id == newer
    with db.session() as s:
        rows = list(s.scalars(select(ScorePassback)))
    assert len(rows) == 1 and rows[0].event_id == newer
    assert rows[0].score_given == pytest.approx(5.0)  # 1 of 2 right, 10 points
