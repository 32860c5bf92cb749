"""What the admin pages show: tool keys, queue depths, worker health, event rates, models.

Every probe here is bounded in time: the health page must answer quickly even when Redis or
every worker is down, and say so instead of failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core import scheduler_heartbeat
from lti_tool.core.db.models import (
    EventStatus,
    GradeEvent,
    KeyStatus,
    ModelVersion,
    PassbackStatus,
    ScorePassback,
    ToolKey,
)
from lti_tool.core.task_names import QUEUES

# Asks the workers to answer within a timeout (Celery's inspect().ping()): {worker: reply}.
WorkerPing = Callable[[float], dict[str, Any] | None]

log = logging.getLogger("metis.admin")

RATE_WINDOWS_MIN = (10, 60)
WORKER_PING_TIMEOUT_S = 0.3
PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class KeyRow:
    kid: str
    status: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class ModelRow:
    version: str
    status: str
    metrics: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None


@dataclass(frozen=True)
class QueueStats:
    # None when Redis cannot be reached: the page says so rather than failing.
    lengths: dict[str, int | None]
    outbox_backlog: int
    failed_events: int
    failed_passbacks: int
    # The LMS holds another score than Metis computed and the automatic resends ran out.
    mismatch_passbacks: int
    # Accepted by the LMS but not read back yet: not final until reconciliation verifies it.
    unverified_passbacks: int


def tool_keys(session: Session) -> list[KeyRow]:
    rows = session.scalars(select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc()))
    return [KeyRow(k.kid, KeyStatus(k.status).value, k.created_at, k.retired_at) for k in rows]


def model_versions(session: Session) -> list[ModelRow]:
    rows = session.scalars(
        select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    )
    return [
        ModelRow(m.version, m.status.value, dict(m.metrics or {}), m.created_at, m.promoted_at)
        for m in rows
    ]


def probe_client(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> redis.Redis:
    """A Redis client for the health probes: short timeouts and no retries, so that a Redis
    that is down costs one refused connection, not redis-py's default retries with backoff."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def queue_lengths(client: redis.Redis) -> dict[str, int | None]:
    """Messages waiting per Celery queue; None for all when Redis cannot be reached."""
    try:
        # The Celery Redis transport keeps each queue as a list named after it; one round trip.
        pipe = client.pipeline(transaction=False)
        for name in QUEUES:
            pipe.llen(name)
        return {name: int(n) for name, n in zip(QUEUES, pipe.execute(), strict=True)}
    except redis.RedisError:
        return dict.fromkeys(QUEUES)


def queue_stats(session: Session, client: redis.Redis) -> QueueStats:
    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    backlog = count(
        select(func.count())
        .select_from(GradeEvent)
        .where(GradeEvent.status.in_([EventStatus.stored, EventStatus.enqueued]))
    )
    failed_events = count(
        select(func.count()).select_from(GradeEvent).where(GradeEvent.status == EventStatus.failed)
    )
    by_status = dict(
        session.execute(
            select(ScorePassback.status, func.count()).group_by(ScorePassback.status)
        ).all()
    )
    return QueueStats(
        queue_lengths(client), backlog, failed_events,
        failed_passbacks=int(by_status.get(PassbackStatus.failed, 0)),
        mismatch_passbacks=int(by_status.get(PassbackStatus.mismatch, 0)),
        unverified_passbacks=int(by_status.get(PassbackStatus.sent, 0)),
    )


@dataclass(frozen=True)
class EventRate:
    minutes: int
    received: int
    processed: int
    failed: int

    @property
    def per_minute(self) -> float:
        return self.received / self.minutes


@dataclass(frozen=True)
class Failure:
    what: str  # "grade event" | "grade passback"
    ref: str
    error: str
    at: datetime | None


def event_rates(session: Session, *, now: datetime | None = None) -> list[EventRate]:
    """Grade events received, processed and failed in each recent window."""
    now = now or datetime.now(UTC)
    rates = []
    for minutes in RATE_WINDOWS_MIN:
        since = now - timedelta(minutes=minutes)
        rows = session.execute(
            select(GradeEvent.status, func.count())
            .where(GradeEvent.created_at >= since)
            .group_by(GradeEvent.status)
        ).all()
        by_status = {EventStatus(status): int(n) for status, n in rows}
        rates.append(
            EventRate(
                minutes,
                received=sum(by_status.values()),
                processed=by_status.get(EventStatus.processed, 0),
                failed=by_status.get(EventStatus.failed, 0),
            )
        )
    return rates


def recent_failures(session: Session, limit: int = 10) -> list[Failure]:
    """The latest failed grade events and passbacks, newest first (ids and errors only)."""
    events = session.execute(
        select(GradeEvent.event_id, GradeEvent.last_error, GradeEvent.created_at)
        .where(GradeEvent.status == EventStatus.failed)
        .order_by(GradeEvent.created_at.desc())
        .limit(limit)
    ).all()
    passbacks = session.execute(
        select(ScorePassback.id, ScorePassback.activity_id, ScorePassback.last_error,
               ScorePassback.updated_at)
        .where(ScorePassback.status == PassbackStatus.failed)
        .order_by(ScorePassback.updated_at.desc())
        .limit(limit)
    ).all()
    found = [Failure("grade event", e, err or "", at) for e, err, at in events]
    found += [
        Failure("grade passback", f"score {pid} (activity {aid})", err or "", at)
        for pid, aid, err, at in passbacks
    ]

    def newest_first(f: Failure) -> float:
        return -f.at.timestamp() if f.at else 0.0

    return sorted(found, key=newest_first)[:limit]


@dataclass(frozen=True)
class WorkerStatus:
    reachable: bool  # False: Redis (the broker) did not answer, so no worker could be asked
    workers: tuple[str, ...]
    waited_ms: float


def worker_status(
    client: redis.Redis, ping: WorkerPing, timeout_s: float = WORKER_PING_TIMEOUT_S
) -> WorkerStatus:
    """Which Celery workers answer a ping within `timeout_s` (the page waits that long at most
    once the broker answers)."""
    started = time.perf_counter()
    try:
        # Asked first: with the broker down, Celery would retry its connection for seconds.
        client.ping()
    except redis.RedisError:
        return WorkerStatus(False, (), (time.perf_counter() - started) * 1000)
    try:
        replies = ping(timeout_s) or {}
    except Exception as exc:  # noqa: BLE001 - any broker trouble means "no answer" on this page
        log.warning("worker ping failed: %s", type(exc).__name__)
        replies = {}
    return WorkerStatus(True, tuple(sorted(replies)), (time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class SchedulerStatus:
    """The periodic scheduler as the health page says it: "running", "stopped" (no heartbeat
    for longer than scheduler_heartbeat.STALE_AFTER_S), "never" (no heartbeat at all: no
    worker runs with --beat), or "unknown" (Redis did not answer)."""

    state: str
    age_s: float | None = None
    pid: int | None = None
    host: str = ""
    last_seen: datetime | None = None


def scheduler_status(client: redis.Redis, now: float | None = None) -> SchedulerStatus:
    try:
        beat = scheduler_heartbeat.read(client)
    except redis.RedisError:
        return SchedulerStatus("unknown")
    if beat is None:
        return SchedulerStatus("never")
    age = max(0.0, (time.time() if now is None else now) - beat.at)
    state = "running" if age <= scheduler_heartbeat.STALE_AFTER_S else "stopped"
    return SchedulerStatus(state, age, beat.pid, beat.host,
                           datetime.fromtimestamp(beat.at, UTC))


def active_model(models: list[ModelRow]) -> ModelRow | None:
    return next((m for m in models if m.status == "active"), None)
