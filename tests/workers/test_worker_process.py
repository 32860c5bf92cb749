"""The pipeline with a real Redis and a real Celery worker process, through failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lti_tool.core.answers.submit import submit
from lti_tool.core.db import Database
from lti_tool.core.db.models import Answer, EventStatus, GradeEvent, PracticeSet
from lti_tool.core.outbox import relay
from lti_tool.core.practice import sets
from lti_tool.devkit.embedded import RedisServer
from lti_tool.settings import Settings
from lti_tool.task_queue import ADAPT_TASK, create_celery
from tests.support.course import Course, seed_course
from tests.support.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.slow


def wait_until(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def counts(db: Database) -> tuple[int, int, int]:
    """(events, processed events, practice sets)."""
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(GradeEvent)) or 0
        done = s.scalar(select(func.count()).select_from(GradeEvent).where(
            GradeEvent.status == EventStatus.processed)) or 0
        sets = s.scalar(select(func.count()).select_from(PracticeSet)) or 0
    return int(events), int(done), int(sets)


def exactly_once(db: Database, expected: int, timeout: float = 90.0) -> None:
    """Every event processed, none applied twice, none lost: one first set per student at
    most, one next set per event at most, and each student's current set carries feedback
    computed from all their answers (the test engine counts them)."""
    wait_until(lambda: counts(db)[1] == expected, timeout)
    time.sleep(0.3)  # anything applied twice would show up now
    assert counts(db)[:2] == (expected, expected)
    with db.session() as s:
        per_event = dict(s.execute(select(PracticeSet.event_id, func.count())
                                   .group_by(PracticeSet.event_id)).all())
        students = s.execute(select(Answer.user_id, Answer.activity_id, func.count())
                             .group_by(Answer.user_id, Answer.activity_id)).all()
        assert per_event.get(None, 0) <= len(students)
        assert all(n == 1 for event, n in per_event.items() if event is not None)
        for user_id, activity_id, answered in students:
            current = sets.set_at(s, user_id, activity_id)
            assert current is not None and current.feedback["answers"] == answered


@pytest.fixture()
def course(db: Database) -> Course:
    """Enough questions that every answer of these tests can be to a new one (a question
    of a set is graded once)."""
    return seed_course(db, items=20)


@pytest.fixture()
def sender(settings: Settings) -> Iterator[Callable[[str], None]]:
    celery = create_celery(settings)

    def send(event_id: str) -> None:
        celery.send_task(ADAPT_TASK, args=[event_id], retry=False)

    yield send
    celery.close()


def test_events_flow_through_a_real_worker_once_each(
    db: Database, course: Course, settings: Settings, tmp_path: Path,
    sender: Callable[[str], None],
) -> None:
    env = worker_env(settings.effective_database_url, settings.redis_url, tmp_path)
    with WorkerProcess(env, tmp_path / "worker.log"):
        ids = [
            submit(db, course.learner(n % 2), course.item_ids[n], {"choice": str(n % 2)},
                   sender).event_id
            for n in range(20)
        ]
        for event_id in ids[:5]:
            sender(event_id)  # the same event delivered twice
        exactly_once(db, 20)


def test_worker_killed_mid_task_loses_nothing(
    db: Database, course: Course, settings: Settings, tmp_path: Path,
    sender: Callable[[str], None],
) -> None:
    mark = tmp_path / "batches.txt"
    env = worker_env(settings.effective_database_url, settings.redis_url, tmp_path,
                     METIS_TEST_ENGINE_SLOW_S="1.5", METIS_TEST_ENGINE_MARK=str(mark))
    with WorkerProcess(env, tmp_path / "worker.log") as worker:
        ids = [submit(db, course.learner(n % 2), course.item_ids[n], {"choice": "0"},
                      sender).event_id for n in range(4)]
        wait_until(lambda: mark.exists() and mark.read_text().strip() != "")
        killed = worker.kill_child()
        assert counts(db)[1] == 0  # killed before anything was stored
        wait_until(lambda: worker.children() not in ([], [killed]))
        exactly_once(db, len(ids))
        assert len(mark.read_text().splitlines()) >= 2  # the batch ran again after the kill


def test_redis_down_while_answers_arrive_then_back(
    db: Database, course: Course, settings: Settings, tmp_path: Path,
) -> None:
    redis = RedisServer().start()
    url = redis.url
    celery = create_celery(settings.model_copy(update={"redis_url": url}))

    def send(event_id: str) -> None:
        celery.send_task(ADAPT_TASK, args=[event_id], retry=False)

    env = worker_env(settings.effective_database_url, url, tmp_path)
    try:
        with WorkerProcess(env, tmp_path / "worker.log"):
            first = submit(db, course.learner(0), course.item_ids[0], {"choice": "0"}, send)
            assert first.queued
            wait_until(lambda: counts(db)[1] == 1)
            redis.stop()
            down = [submit(db, course.learner(n % 2), course.item_ids[n], {"choice": "0"}, send)
                    for n in range(1, 5)]
            assert not any(s.queued for s in down)  # stored, "being processed" on the page
            assert counts(db)[:2] == (5, 1)
            assert relay(db, send) == 0  # still down: nothing sent, nothing lost
            redis = RedisServer(port=redis.port).start()
            wait_until(lambda: relay(db, send) > 0 or counts(db)[1] == 5, timeout=60)
            # The worker reconnects on kombu's back-off (2 s, then 4, 6, ... up to 30 s
            # between tries), so on a loaded machine it can be a minute before it consumes.
            exactly_once(db, 5, timeout=180)
    finally:
        celery.close()
        redis.stop()
