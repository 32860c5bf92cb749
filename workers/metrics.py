"""The workers' Prometheus metrics: answer->set latency, batch sizes, stage times, passbacks.

Recorded in the process that does the work, in prometheus-client's process-wide registry, and
served by that process on its own port (`serve`, METIS_WORKER_METRICS_PORT; 0 = off): process n
of the Celery pool listens on port + n.

Why a port per process rather than prometheus-client's multiprocess mode: multiprocess mode
picks its storage when prometheus_client is first imported, so any import that happens before
PROMETHEUS_MULTIPROC_DIR is set silently keeps each child's numbers in its own memory, where
nobody reads them; it also leaves files to wipe at every start and per-process gauges to clean
up when a child exits. A port per process has none of that: what a process records is what
its port answers, and a replaced child (same pool index) takes over the same port.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec

from prometheus_client import Counter, Histogram, start_http_server

if TYPE_CHECKING:
    from lti_tool.core.db.models import GradeEvent
    from workers.pipeline import Outcome

log = logging.getLogger("metis.metrics")

P = ParamSpec("P")

# The targets are 10 ms (p50) and 40 ms (p99) from answer to the next set: fine buckets there,
# coarse ones for a backlog (seconds to minutes) so that an overload is still measured.
ANSWER_TO_SET = Histogram(
    "metis_answer_to_set_seconds",
    "From the answer being stored to its new set or mastery being published to the page.",
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.5, 5.0, 10.0, 30.0, 60.0),
)
BATCH_SIZE = Histogram(
    "metis_adapt_batch_size", "Grade events taken by one adapt task.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)
STAGE = Histogram(
    "metis_adapt_stage_seconds", "Time of one adapt batch in each stage of the pipeline.",
    labelnames=["stage"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
EVENTS = Counter(
    "metis_adapt_events", "Grade events by what the adapt step did with them.",
    labelnames=["result"],  # processed (stored now) | skipped (already processed)
)
PASSBACKS = Counter(
    "metis_passback_deliveries", "Score deliveries to the LMS by their outcome.",
    labelnames=["status"],  # workers.passback.deliver's result, or "retry" / "error"
)


def observe_batch(event_ids: list[str], out: Outcome, events: Iterable[GradeEvent],
                  *, now: float | None = None) -> None:
    """After a batch was published: its size, stage times, and each stored event's latency
    from the answer (GradeEvent.created_at, written by the web process) to now."""
    now = time.time() if now is None else now
    BATCH_SIZE.observe(len(event_ids))
    for stage, ms in out.timings_ms.items():
        STAGE.labels(stage).observe(ms / 1000)
    EVENTS.labels("processed").inc(len(out.processed))
    EVENTS.labels("skipped").inc(len(out.skipped))
    stored = set(out.processed)
    for ev in events:
        if ev.event_id in stored:
            # Clamped at 0: the web and worker hosts' clocks may differ by a little.
            ANSWER_TO_SET.observe(max(0.0, now - ev.created_at.timestamp()))


def counted_delivery(deliver: Callable[P, str]) -> Callable[P, str]:
    """Count each delivery by the status it returns; a raised error as "retry" when it is
    transient (the task retries it) and "error" otherwise, then re-raised unchanged."""

    @functools.wraps(deliver)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            status = deliver(*args, **kwargs)
        except Exception as exc:
            PASSBACKS.labels("retry" if getattr(exc, "transient", False) else "error").inc()
            raise
        PASSBACKS.labels(status).inc()
        return status

    return wrapper


def pool_index() -> int:
    """This process's index in the Celery (billiard) pool: 0 outside a pool."""
    from billiard.process import current_process

    return int(getattr(current_process(), "index", 0) or 0)


def serve(base_port: int, index: int | None = None) -> Any | None:
    """Serve this process's metrics on base_port + its pool index (a daemon thread); returns
    the HTTP server, or None when off (port 0) or when the port is taken (logged: a worker
    without metrics still does its work)."""
    if not base_port:
        return None
    port = base_port + (pool_index() if index is None else index)
    try:
        server, _thread = start_http_server(port)
    except OSError as exc:
        log.warning("worker metrics not served: port %s: %s", port, exc)
        return None
    log.info("worker metrics on port %s", port)
    return server
