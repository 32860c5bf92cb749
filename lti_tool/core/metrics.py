"""The numbers /metrics reads at scrape time: queue depths, the outbox, passbacks, served models.

They come from the same functions the admin pages call (`operations.queue_stats` for the health
page, `operations.served_models` for the models page), so a dashboard and the pages cannot
disagree. The worker-side histograms and counters (answer->set latency, batch size, delivery
outcomes) are recorded where the work happens, in `workers.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.core import operations
from lti_tool.core.db import Database


@dataclass(frozen=True)
class Numbers:
    queues: operations.QueueStats
    served: list[operations.ServedModel]


def numbers(db: Database, client: redis.Redis) -> Numbers:
    """What the health and models pages show, read once (the Redis client: a probe client, so
    that a Redis that is down costs one refused connection, and the queues read as unknown)."""
    with db.session() as s:
        queues = operations.queue_stats(s, client)
    return Numbers(queues, operations.served_models(db))


def families(n: Numbers) -> list[Metric]:
    """The numbers as Prometheus metric families."""
    depth = GaugeMetricFamily("metis_queue_depth", "Messages waiting in a Celery queue.",
                              labels=["queue"])
    for name, length in n.queues.lengths.items():
        if length is not None:  # Redis unreachable: no sample rather than a false zero
            depth.add_metric([name], length)
    up = GaugeMetricFamily("metis_queue_reachable",
                           "1 when the broker answered the queue-depth probe, else 0.")
    up.add_metric([], int(all(v is not None for v in n.queues.lengths.values())))
    backlog = GaugeMetricFamily("metis_outbox_backlog",
                                "Grade events stored or enqueued but not processed yet.")
    backlog.add_metric([], n.queues.outbox_backlog)
    failed = GaugeMetricFamily("metis_grade_events_failed", "Grade events that failed for good.")
    failed.add_metric([], n.queues.failed_events)
    passbacks = GaugeMetricFamily(
        "metis_passbacks", "Scores by where they stand with the LMS (the health page's rows).",
        labels=["status"])
    passbacks.add_metric(["failed"], n.queues.failed_passbacks)
    passbacks.add_metric(["mismatch"], n.queues.mismatch_passbacks)
    passbacks.add_metric(["sent"], n.queues.unverified_passbacks)
    served = GaugeMetricFamily(
        "metis_model_served", "1 for the model version that serves each deployment.",
        labels=["deployment", "version", "source"])
    for m in n.served:
        served.add_metric([m.deployment, m.version, m.source], 1)
    return [depth, up, backlog, failed, passbacks, served]


class NumbersCollector(Collector):
    """Reads the numbers on each scrape (no background thread, nothing cached)."""

    def __init__(self, db: Database, client: redis.Redis) -> None:
        self.db = db
        self.client = client

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("metis_database_reachable",
                               "1 when the database answered this scrape's queries, else 0.")
        try:
            found = numbers(self.db, self.client)
        except SQLAlchemyError:
            # The scrape still answers (a 500 would hide every other metric): alert on this.
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(found)

    def describe(self) -> list[Metric]:
        # Registering would otherwise call collect() once, i.e. query the database at start-up.
        return []


def registry(db: Database, client: redis.Redis) -> CollectorRegistry:
    """A registry of its own per app: the process-wide one keeps what the process records
    itself, and an app built twice in one process (the tests) must not register twice."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(NumbersCollector(db, client))
    return reg
