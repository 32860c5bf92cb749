"""The health page: quick with no worker (and says so), event rates and failures from the
database, queue lengths from Redis, and a real Celery worker answering the ping."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from lti_tool.core import operations, worker_status
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
    assert ("No worker is ready yet: the first\nsets wait until a worker has loaded its model"
            in html)
    assert "Workers ready" not in html
    assert "No failures." in html


def test_rates_failures_and_queue_lengths(admin: Admin, redis_url: str) -> None:
    world = admin.world
    course = seed_course(world.db, platform_id=world.platform_pk)
    learner = Learner(world.platform_pk, course.deployment_id, course.context_id,
                      course.activity_id, course.user_ids[0], course.resource_link_id)
    now = datetime.now(UTC)
    events = [
        # One question each: a question of a set is answered (and graded) once.
        store_answer(world.db, learner, item, {"choice": "0"},
                     now=now - timedelta(minutes=age)).event_id
        for item, age in zip(course.item_ids, (1, 2, 3, 30, 90), strict=False)
        # three in 10 minutes, four in 60, one older
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
    assert "has loaded its model is unknown: Redis is unreachable" in r.text
    assert elapsed < 1.5, elapsed


def test_a_running_worker_answers(
    admin: Admin, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = worker_env(database_url, redis_url, tmp_path)
    with WorkerProcess(env, tmp_path / "worker.log"):
        deadline = time.monotonic() + 20
        html = admin.page("/health")
        while not ("1 worker answered" in html and "Workers ready: 1" in html) \
                and time.monotonic() < deadline:
            html = admin.page("/health")
        health = admin.browser.get(f"{admin.world.metis.url}/healthz").json()
    assert "1 worker answered" in html, html.split('id="workers-h"')[1][:400]
    assert "No worker answered" not in html
    # The worker wrote its readiness once its model was loaded, before taking any task.
    assert "Workers ready: 1 (model loaded)" in html
    assert "model <code>test-engine</code> on cpu" in html
    assert "No worker is ready yet" not in html
    assert health["workers"] == {"ready": 1, "models": ["test-engine"]}
    # A worker that stopped withdraws its claim.
    assert "No worker is ready yet" in admin.page("/health")


def test_worker_status_without_broker_does_not_wait_on_celery() -> None:
    def no_ping(timeout: float) -> dict[str, object]:
        raise AssertionError("Celery must not be asked when Redis is down")

    status = operations.worker_status(operations.probe_client("redis://127.0.0.1:1/0"), no_ping)
    assert not status.reachable and status.workers == ()


def test_health_page_and_healthz_count_ready_workers(admin: Admin, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    url = f"{admin.world.metis.url}/healthz"
    before = admin.browser.get(url)
    assert before.status_code == 200
    assert before.json()["workers"] == {"ready": 0, "models": []}
    # The web process is healthy without a worker: answers wait in the queue.
    assert before.json()["status"] == "ok"

    worker_status.mark_ready(client, "host-a:11", "metis-core-x", "cpu", now=1_700_000_000)
    worker_status.mark_ready(client, "host-b:12", "metis-core-x", "cuda:0")
    # The Celery ping's answer as the page gets it (a real worker answering is
    # test_a_running_worker_answers): a worker answers, so the claims stand.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(operations, "worker_status", lambda probe, ping: operations.WorkerStatus(
            True, ("celery@host-a",), 1.0))
        html = admin.page("/health")
    assert "Workers ready: 2 (model loaded)" in html
    assert ("<code>host-a:11</code>: model <code>metis-core-x</code> on cpu, loaded "
            "2023-11-14 22:13:20 UTC") in html
    assert "<code>host-b:12</code>: model <code>metis-core-x</code> on cuda:0" in html
    # No worker answers (here none runs): the claims are left-overs, nothing is ready.
    stale = admin.page("/health")
    assert "No worker is ready: the first sets\nwait until a worker has loaded its model" in stale
    assert "2 worker\nprocesses loaded a model earlier but no worker answers" in stale
    assert "Workers ready" not in stale
    after = admin.browser.get(url).json()
    assert after["workers"] == {"ready": 2, "models": ["metis-core-x"]}
    assert "host-a" not in json.dumps(after)  # no host names on the unauthenticated probe

    worker_status.forget(client, "host-a:11")
    worker_status.forget(client, "host-b:12")
    assert "No worker is ready yet" in admin.page("/health")


def test_wait_until_ready_returns_when_a_worker_marks_itself(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    started = time.time()
    # An entry from an earlier run (same Redis) is not this run's worker.
    worker_status.mark_ready(client, "old:1", "m-old", "cpu", now=started - 60)
    marker = threading.Timer(0.4, worker_status.mark_ready,
                             args=(client, "new:2", "m-new", "cpu"))
    marker.start()
    try:
        t0 = time.monotonic()
        ready = worker_status.wait_until_ready(client, 10, since=started, poll_s=0.05)
        waited = time.monotonic() - t0
    finally:
        marker.cancel()
    assert [(w.name, w.model) for w in ready] == [("new:2", "m-new")]
    assert 0.3 <= waited < 5, waited
    assert [w.name for w in worker_status.ready_workers(client)] == ["new:2", "old:1"]


def test_wait_until_ready_gives_up_at_the_bound_or_when_told(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    t0 = time.monotonic()
    assert worker_status.wait_until_ready(client, 0.5, poll_s=0.05) == []
    assert 0.5 <= time.monotonic() - t0 < 3
    # keep_waiting False (the worker process exited): no wait at all.
    t0 = time.monotonic()
    assert worker_status.wait_until_ready(client, 30, keep_waiting=lambda: False) == []
    assert time.monotonic() - t0 < 0.5
    # Redis down counts as "not ready yet", not as an error.
    down = operations.probe_client("redis://127.0.0.1:1/0")
    assert worker_status.wait_until_ready(down, 0.3, poll_s=0.05) == []
