"""The health page: quick with no worker (and says so), event rates and failures from the
database, queue lengths from Redis, and a real Celery worker answering the ping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from lti_tool.core import operations
from lti_tool.core.answers.submit import Learner, store_answer
from lti_tool.core.db.models import (
    EventStatus,
    GradeEvent,
    PassbackStatus,
    ScorePassback,
)
from lti_tool.web.views.admin import PROBE_KEY
from tests.support.admin import Admin
from tests.support.course import seed_course
from tests.support.worker import WorkerProcess, worker_env


def test_no_worker_renders_quickly_and_says_so(admin: Admin) -> None:
    admin.page("/health")  # the first call builds the Celery client once per process
    started = time.perf_counter()
    html = admin.page("/health")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.9, elapsed
    assert "No worker answered" in html and "metis worker" in html
    assert "No failures." in html


def test_rates_failures_and_queue_lengths(admin: Admin, redis_url: str) -> None:
    world = admin.world
    course = seed_course(world.db, platform_id=world.platform_pk)
    learner = Learner(world.platform_pk, course.deployment_id, course.context_id,
                      course.activity_id, course.user_ids[0], course.resource_link_id)
    now = datetime.now(UTC)
    events = [
        store_answer(world.db, learner, course.item_ids[0], {"choice": "0"},
                     now=now - timedelta(minutes=age)).event_id
        for age in (1, 2, 3, 30, 90)  # three in 10 minutes, four in 60, one older
    ]
    with world.db.session() as s:
        s.get(GradeEvent, events[0]).status = EventStatus.processed  # type: ignore[union-attr]
        failed = s.get(GradeEvent, events[1])
        assert failed is not None
        failed.status, failed.last_error = EventStatus.failed, "engine crashed: boom"
        s.add(ScorePassback(user_id=course.user_ids[1], activity_id=course.activity_id,
                            status=PassbackStatus.failed, last_error="score refused: HTTP 403"))
        s.add(ScorePassback(user_id=course.user_ids[0], activity_id=course.activity_id,
                            status=PassbackStatus.mismatch))
    client = redis.Redis.from_url(redis_url)
    client.rpush("passback", "m1", "m2")

    html = admin.page("/health")
    # per minute, received, processed, failed
    assert ('<th scope="row">Last 10 minutes</th>'
            "<td>0.3</td><td>3</td><td>1</td><td>1</td>") in html
    assert ('<th scope="row">Last 60 minutes</th>'
            "<td>0.1</td><td>4</td><td>1</td><td>1</td>") in html
    assert "engine crashed: boom" in html and "score refused: HTTP 403" in html
    assert "Queue <code>passback</code></th><td>2</td>" in html
    assert "Failed grade events</th><td>1</td>" in html
    assert "Failed grade passbacks</th><td>1</td>" in html
    assert "differently (mismatch)</th><td>1</td>" in html
    assert "not yet read back</th><td>0</td>" in html
    assert "Outbox backlog (grade events not processed)</th><td>3</td>" in html


def test_redis_down_is_reported_not_raised(admin: Admin) -> None:
    app = admin.world.app
    # A Redis nobody listens on: every probe fails at once (connection refused).
    app.extensions[PROBE_KEY] = operations.probe_client("redis://127.0.0.1:1/0")
    try:
        started = time.perf_counter()
        r = admin.get("/health")
        elapsed = time.perf_counter() - started
    finally:
        del app.extensions[PROBE_KEY]
    assert r.status_code == 200, r.text
    assert "Redis is unreachable" in r.text and "Redis unreachable" in r.text
    assert elapsed < 1.5, elapsed


def test_a_running_worker_answers(
    admin: Admin, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = worker_env(database_url, redis_url, tmp_path)
    with WorkerProcess(env, tmp_path / "worker.log"):
        deadline = time.monotonic() + 20
        html = admin.page("/health")
        while "1 worker answered" not in html and time.monotonic() < deadline:
            html = admin.page("/health")
    assert "1 worker answered" in html, html.split('id="workers-h"')[1][:400]
    assert "No worker answered" not in html


def test_worker_status_without_broker_does_not_wait_on_celery() -> None:
    def no_ping(timeout: float) -> dict[str, object]:
        raise AssertionError("Celery must not be asked when Redis is down")

    status = operations.worker_status(operations.probe_client("redis://127.0.0.1:1/0"), no_ping)
    assert not status.reachable and status.workers == ()
