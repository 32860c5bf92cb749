"""The workers' metrics (workers.metrics): passback outcomes counted from real deliveries, the
answer->set latency and batch size from the pipeline, the per-process port, Celery events on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from lti_tool.core.answers.submit import store_answer, submit
from lti_tool.core.db import Database
from lti_tool.core.db.models import GradeEvent
from lti_tool.lms.tokens import ServiceError
from lti_tool.settings import Settings
from lti_tool.task_queue import ADAPT_TASK, create_celery
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from tests.support.gradebook import MoodleGradebook
from tests.support.worker import WorkerProcess, worker_env
from workers import metrics
from workers.passback import deliver
from workers.pipeline import Outcome, process_events


def sample(name: str, **labels: str) -> float:
    """The registry's current value (0 before the first observation)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _passback(db: Database, course: Course, redis_url: str) -> int:
    event = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"}).event_id
    out = process_events(db, redis.Redis.from_url(redis_url), RecordingEngine(), [event])
    return out.passbacks[0]


def test_celery_sends_task_events_for_flower(settings: Settings) -> None:
    conf = create_celery(settings).conf
    assert conf.worker_send_task_events is True
    assert conf.task_send_sent_event is True


def test_delivery_outcomes_are_counted_by_status(db: Database, course: Course,
                                                  redis_url: str) -> None:
    gradebook = MoodleGradebook()
    before = {s: sample("metis_passback_deliveries_total", status=s)
              for s in ("verified", "nothing", "retry", "failed")}

    pid = _passback(db, course, redis_url)
    gradebook.post_faults = [503]
    with pytest.raises(ServiceError):
        deliver(db, gradebook, pid)  # transient: raised for the task to retry
    assert deliver(db, gradebook, pid) == "verified"
    assert deliver(db, gradebook, pid) == "nothing"  # already verified: nothing pending

    second = store_answer(db, course.learner(), course.item_ids[1], {"choice": "1"}).event_id
    process_events(db, redis.Redis.from_url(redis_url), RecordingEngine(), [second])
    gradebook.post_faults = [400]
    assert deliver(db, gradebook, pid) == "failed"

    after = {s: sample("metis_passback_deliveries_total", status=s) for s in before}
    assert {s: after[s] - before[s] for s in before} == {
        "verified": 1, "nothing": 1, "retry": 1, "failed": 1}


def test_a_batch_records_its_size_and_each_stored_events_latency() -> None:
    born = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    events = [GradeEvent(event_id="stored", created_at=born),
              GradeEvent(event_id="duplicate", created_at=born - timedelta(hours=1))]
    out = Outcome(processed=["stored"], skipped=["duplicate"],
                  timings_ms={"load": 2.0, "engine": 3.0, "store": 4.0, "publish": 1.0})
    count = sample("metis_answer_to_set_seconds_count")
    total = sample("metis_answer_to_set_seconds_sum")
    batches = sample("metis_adapt_batch_size_count")
    size_sum = sample("metis_adapt_batch_size_sum")
    engine = sample("metis_adapt_stage_seconds_sum", stage="engine")

    metrics.observe_batch(["stored", "duplicate"], out, events,
                          now=born.timestamp() + 0.025)

    # Only the event stored now: the duplicate's set was published by an earlier batch.
    assert sample("metis_answer_to_set_seconds_count") - count == 1
    assert sample("metis_answer_to_set_seconds_sum") - total == pytest.approx(0.025, abs=1e-6)
    assert sample("metis_answer_to_set_seconds_bucket", le="0.04") >= 1
    assert sample("metis_adapt_batch_size_count") - batches == 1
    assert sample("metis_adapt_batch_size_sum") - size_sum == 2
    assert sample("metis_adapt_stage_seconds_sum", stage="engine") - engine == pytest.approx(
        0.003)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_port_is_off_by_default() -> None:
    assert metrics.serve(0) is None


def test_each_pool_process_serves_its_metrics_on_base_plus_its_index() -> None:
    base = _free_port() - 1  # process 1 of the pool listens on base + 1
    server = metrics.serve(base, index=1)
    assert server is not None
    try:
        metrics.BATCH_SIZE.observe(3)
        body = requests.get(f"http://127.0.0.1:{base + 1}/metrics", timeout=5).text
        assert "metis_adapt_batch_size_count" in body
        assert "metis_passback_deliveries" in body
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_leaves_the_worker_running_without_metrics() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        assert metrics.serve(int(taken.getsockname()[1]), index=0) is None


def _scrape(port: int) -> dict[str, float]:
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples
            if not s.labels or s.name.endswith("_count")}


def _wait(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass  # the pool process is not listening yet
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_a_real_worker_serves_its_metrics_and_sends_task_events(
    db: Database, course: Course, settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = worker_env(settings.effective_database_url, settings.redis_url, tmp_path,
                     METIS_WORKER_METRICS_PORT=str(port))
    celery = create_celery(settings)
    seen: list[str] = []
    with celery.connection_for_read() as conn:
        # What Flower does: listen to the workers' task events.
        receiver = celery.events.Receiver(conn, handlers={"*": lambda e: seen.append(e["type"])})
        listening = threading.Thread(target=receiver.capture, kwargs={"wakeup": False},
                                     daemon=True)
        listening.start()
        try:
            with WorkerProcess(env, tmp_path / "worker.log") as worker:
                def send(event_id: str) -> None:
                    celery.send_task(ADAPT_TASK, args=[event_id], retry=False)

                submit(db, course.learner(0), course.item_ids[0], {"choice": "0"}, send)
                _wait(lambda: _scrape(port).get("metis_answer_to_set_seconds_count") == 1)
                assert _scrape(port)["metis_adapt_batch_size_count"] == 1
                _wait(lambda: "task-succeeded" in seen)
                assert "task-received" in seen and "task-started" in seen

                # A replaced pool process (same index) takes over the same port, afresh.
                worker.kill_child()
                _wait(lambda: _scrape(port).get("metis_answer_to_set_seconds_count") == 0)
        finally:
            receiver.should_stop = True
            listening.join(5)
            celery.close()
