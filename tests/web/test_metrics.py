"""GET /metrics: absent without METIS_METRICS_TOKEN, refused without the right Bearer token, and
with it Prometheus's text format holding the pipeline's metrics and the health page's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from lti_tool.core import operations
from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.task_names import QUEUES
from lti_tool.settings import Settings
from lti_tool.web.app import create_app
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers.pipeline import process_events

TOKEN = "scrape-me-4f1c"


@contextmanager
def _app(settings: Settings, **changes: object) -> Iterator[Flask]:
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN, **changes}))
    app.config["TESTING"] = True
    yield app
    app.extensions["metis.db"].dispose()


@pytest.fixture()
def scraper(settings: Settings) -> Iterator[FlaskClient]:
    with _app(settings) as app:
        yield app.test_client()


def _scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    assert "version=" in response.headers["Content-Type"]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def test_no_token_configured_means_no_endpoint(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                      ).status_code == 404


@pytest.mark.parametrize(("header", "status"), [
    (None, 401),
    ("Basic c2NyYXBlOm1l", 401),
    ("Bearer", 401),
    ("Bearer not-the-token", 403),
    (f"Bearer {TOKEN}x", 403),
    ("Bearer \u00e9t\u00e9", 403),
])
def test_a_scraper_without_the_right_token_is_refused(
    scraper: FlaskClient, header: str | None, status: int
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = scraper.get("/metrics", headers=headers)
    assert response.status_code == status
    assert "metis_" not in response.get_data(as_text=True)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_after_an_answer_the_pipeline_metrics_and_the_pages_numbers_are_served(
    scraper: FlaskClient, db: Database, course: Course, redis_url: str
) -> None:
    latency = ("metis_answer_to_set_seconds_count", ())
    batches = ("metis_adapt_batch_size_count", ())
    before = _scrape(scraper)

    client = redis.Redis.from_url(redis_url)
    event = store_answer(db, course.learner(0), course.item_ids[0], {"choice": "0"}).event_id
    assert process_events(db, client, RecordingEngine(), [event]).processed == [event]
    client.rpush(QUEUES[0], "waiting-1", "waiting-2")  # two messages waiting in a queue

    after = _scrape(scraper)
    assert after[latency] == before.get(latency, 0) + 1
    assert after[batches] == before.get(batches, 0) + 1
    assert ("metis_adapt_events_total", (("result", "processed"),)) in after
    # The health page's numbers, from the same function (operations.queue_stats).
    with db.session() as s:
        stats = operations.queue_stats(s, client)
    assert stats.lengths[QUEUES[0]] == 2
    for name, length in stats.lengths.items():
        assert after[("metis_queue_depth", (("queue", name),))] == length
    assert after[("metis_queue_reachable", ())] == 1
    assert after[("metis_database_reachable", ())] == 1
    assert after[("metis_outbox_backlog", ())] == stats.outbox_backlog
    assert after[("metis_passbacks", (("status", "sent"),))] == stats.unverified_passbacks
    # The models page's "which model serves which deployment".
    served = operations.served_models(db)
    assert served
    for m in served:
        key = ("metis_model_served",
               tuple(sorted({"deployment": m.deployment, "version": m.version,
                             "source": m.source}.items())))
        assert after[key] == 1


def test_redis_down_is_a_metric_not_a_500(settings: Settings, course: Course) -> None:
    with _app(settings, redis_url="redis://127.0.0.1:1/0") as app:
        found = _scrape(app.test_client())
    assert found[("metis_queue_reachable", ())] == 0
    assert not [k for k in found if k[0] == "metis_queue_depth"]  # unknown, not zero
    assert found[("metis_database_reachable", ())] == 1


def test_database_down_is_a_metric_not_a_500(settings: Settings, tmp_path: Path) -> None:
    gone = f"sqlite:///{tmp_path / 'no-such-folder' / 'metis.db'}"
    with _app(settings, database_url=gone) as app:
        found = _scrape(app.test_client())
    assert found[("metis_database_reachable", ())] == 0
    assert not [k for k in found if k[0] in ("metis_queue_depth", "metis_passbacks")]
