"""The adapt step of a student with a long history reads only the answers after their resume
point (workers.resume_points) and plans what reading the whole history would plan; a stale
or broken point is never used."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
import torch
from sqlalchemy import delete, select

from lti_tool.core import privacy, redis_keys
from lti_tool.core.db import Database
from lti_tool.core.db.models import Answer, EventStatus, GradeEvent
from meta_engine.model.tables import InMemoryTableStore
from tests.support.course import Course, seed_course
from workers import resume_points
from workers.engine_adapter import MetaEngine, load_engine
from workers.pipeline import Pending, build_jobs, keep_points, process_events

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> MetaEngine:
    torch.set_num_threads(1)
    return load_engine()


@pytest.fixture()
def rclient(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture()
def course(db: Database) -> Course:
    return seed_course(db, items=12)


def answered(db: Database, course: Course, n: int, first: int = 0) -> list[str]:
    """`n` more answers of student 0 (stored with their grade events, as the answer POST
    stores them), the questions in turn, right two times in three."""
    ids = []
    with db.session() as s:
        for t in range(first, first + n):
            event = str(uuid.uuid4())
            at = START + timedelta(seconds=40 * t)
            a = Answer(event_id=event, user_id=course.user_ids[0], activity_id=course.activity_id,
                       item_id=course.item_ids[t % len(course.item_ids)], response={},
                       correct=t % 3 != 0, credit=1.0 if t % 3 else 0.0, answered_at=at)
            s.add(a)
            s.flush()
            s.add(GradeEvent(event_id=event, answer_id=a.id, user_id=a.user_id,
                             activity_id=a.activity_id, status=EventStatus.stored,
                             created_at=at, deployment_id=course.deployment_id,
                             resource_link_id=course.resource_link_id))
            ids.append(event)
    return ids


def served_once(db: Database, course: Course, engine: MetaEngine, client: redis.Redis,
                n: int) -> None:
    """`n` answers of student 0 and one adapt step on the last: it leaves a resume point."""
    events = answered(db, course, n)
    process_events(db, client, engine, [events[-1]], now=START + timedelta(days=1))


def jobs(db: Database, events: list[str], client: redis.Redis | None) -> list[Pending]:
    with db.session() as s:
        rows = [s.get(GradeEvent, e) for e in events]
        return build_jobs(s, [r for r in rows if r is not None], START + timedelta(days=2),
                          client)


def stored(client: redis.Redis, course: Course) -> dict:
    raw = client.get(redis_keys.resume_point(course.user_ids[0], course.context_id))
    assert raw is not None
    return dict(json.loads(raw))


def test_a_long_history_is_resumed_and_planned_as_in_full(
    db: Database, course: Course, engine: MetaEngine, rclient: redis.Redis,
) -> None:
    # The first step reads all 200 answers and leaves a point behind.
    served_once(db, course, engine, rclient, 200)
    point = stored(rclient, course)
    assert 0 < point["n"] < 200 and point["point"]["n"] == point["n"]
    more = answered(db, course, 3, first=200)
    [resumed] = jobs(db, [more[-1]], rclient)
    [full] = jobs(db, [more[-1]], None)
    assert len(full.job.history) == 203
    assert len(resumed.job.history) == 203 - point["n"]
    assert resumed.job.earlier_n == point["n"] and resumed.job.since == full.job.since
    # Each on course tables of its own: a plan applies its event's table updates.
    a = MetaEngine(engine.model_for, InMemoryTableStore()).plan_batch([resumed.job])
    b = MetaEngine(engine.model_for, InMemoryTableStore()).plan_batch([full.job])
    assert a[0].items == b[0].items
    assert json.dumps(a[0].feedback, sort_keys=True) == json.dumps(b[0].feedback, sort_keys=True)


def test_the_point_moves_on_and_each_step_reads_a_bounded_tail(
    db: Database, course: Course, engine: MetaEngine, rclient: redis.Redis,
) -> None:
    served_once(db, course, engine, rclient, 160)
    longest = 0
    for k in range(6):
        step = answered(db, course, 40, first=160 + 40 * k)
        [p] = jobs(db, [step[-1]], rclient)
        longest = max(longest, len(p.job.history))
        plans = engine.plan_batch([p.job])
        keep_points(rclient, [(p, plans[0])])
    keep = engine.model_for(None).net.cfg.window + 8
    assert longest < 2 * keep + 40  # 400 answers in all, never more than this read at once
    assert stored(rclient, course)["n"] > 300


def test_a_stale_or_broken_point_is_not_used(
    db: Database, course: Course, engine: MetaEngine, rclient: redis.Redis,
) -> None:
    served_once(db, course, engine, rclient, 200)
    point = stored(rclient, course)
    last = answered(db, course, 1, first=200)
    with db.session() as s:  # one answer the point summarises is gone
        first_id = s.scalars(select(Answer.id).order_by(Answer.id)).first()
        s.execute(delete(GradeEvent).where(GradeEvent.answer_id == first_id))
        s.execute(delete(Answer).where(Answer.id == first_id))
    [p] = jobs(db, last, rclient)
    assert p.job.earlier is None and len(p.job.history) == 200
    key = redis_keys.resume_point(course.user_ids[0], course.context_id)
    rclient.set(key, "{not json")
    [p] = jobs(db, last, rclient)
    assert p.job.earlier is None
    # An older point never replaces a newer one.
    resume_points.write(rclient, course.user_ids[0], course.context_id,
                        resume_points.StoredPoint(point["upto"] - 5, 1, {}))
    assert rclient.get(key) == b"{not json"  # unreadable: left alone, then replaced
    rclient.delete(key)
    resume_points.write(rclient, course.user_ids[0], course.context_id,
                        resume_points.StoredPoint(10, 3, {"n": 3}))
    resume_points.write(rclient, course.user_ids[0], course.context_id,
                        resume_points.StoredPoint(5, 1, {"n": 1}))
    assert stored(rclient, course)["upto"] == 10


def test_the_point_is_erased_with_the_person(
    db: Database, course: Course, engine: MetaEngine, rclient: redis.Redis,
) -> None:
    served_once(db, course, engine, rclient, 160)
    key = redis_keys.resume_point(course.user_ids[0], course.context_id)
    assert rclient.exists(key)
    privacy.erase_user(db, rclient, course.user_ids[0])
    assert not rclient.exists(key)
