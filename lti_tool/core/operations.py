"""What the admin pages show: tool keys, queue depths, worker health, event rates, models.

Every probe here is bounded in time: the health page must answer quickly even when Redis or
every worker is down, and say so instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core import model_versions as versions
from lti_tool.core import scheduler_heartbeat
from lti_tool.core import worker_status as readiness
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Deployment,
    EventStatus,
    GradeEvent,
    KeyStatus,
    ModelVersion,
    PassbackStatus,
    Platform,
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
    deployment: str | None = None  # "deployment 9 of Moodle"; None: trained for every deployment


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
    names = _deployment_names(session)
    return [
        ModelRow(m.version, m.status.value, dict(m.metrics or {}), m.created_at, m.promoted_at,
                 None if m.deployment_id is None else names.get(m.deployment_id,
                                                                f"deployment #{m.deployment_id}"))
        for m in rows
    ]


def _deployment_names(session: Session) -> dict[int, str]:
    rows = session.execute(
        select(Deployment.id, Deployment.deployment_id, Platform.name, Platform.issuer)
        .join(Platform, Deployment.platform_id == Platform.id)
        .order_by(Platform.id, Deployment.id)
    ).all()
    return {pk: f"deployment {dep} of {name or issuer}" for pk, dep, name, issuer in rows}


@dataclass(frozen=True)
class ServedModel:
    """Which model the workers serve to one deployment, and why."""

    deployment: str  # "deployment 9 of Moodle"
    version: str
    source: str  # "own" | "all deployments" | "shipped default"


def served_models(db: Database) -> list[ServedModel]:
    """Each registered deployment with the model that serves it, resolved as the workers do
    (versions.active_model: its own, else the all-deployments one, else the default)."""
    active = versions.active_models(db)
    everyone = active.get(versions.ALL_DEPLOYMENTS)
    with db.session() as s:
        names = _deployment_names(s)
    out = []
    for pk, name in names.items():
        own = active.get(versions.field_of(pk))
        if own is not None:
            out.append(ServedModel(name, own.version, "own"))
        elif everyone is not None:
            out.append(ServedModel(name, everyone.version, "all deployments"))
        else:
            out.append(ServedModel(name, versions.DEFAULT_VERSION, "shipped default"))
    return out


@dataclass(frozen=True)
class ModelCard:
    """The shipped default model's card, as the models page shows it (missing fields: "")."""

    version: str
    model: str
    date: str
    trained_on: str
    intended_use: str
    redistribution: str
    algorithm: str
    courses: int
    mean_course_auc: float | None
    ece: float | None
    build_command: str


# The shipped checkpoint's card: package data of meta_engine, read as a file. Importing
# meta_engine.api would load torch into the web process (the import contracts forbid it), so
# the package is only located (find_spec imports nothing for a top-level name), never imported.
DEFAULT_CARD = ("meta_engine", "default_model/model_card.json")


def _package_file(package: str, path: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    return next((Path(f) / path for f in folders if (Path(f) / path).is_file()), None)


def _section(card: dict[str, Any], key: str) -> dict[str, Any]:
    value = card.get(key)
    return value if isinstance(value, dict) else {}


def shipped_default_card(location: tuple[str, str] | None = None) -> ModelCard | None:
    """The default model's card, or None when this host has no shipped checkpoint (a web-only
    install) or its card cannot be read: the page says so instead of failing."""
    found = _package_file(*(location or DEFAULT_CARD))
    if found is None:
        return None
    try:
        raw = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("shipped model card %s unreadable: %s", found, type(exc).__name__)
        return None
    if not isinstance(raw, dict):
        return None
    valid = _section(raw, "valid")
    build = _section(raw, "build")
    courses = raw.get("courses")

    def text(key: str, source: dict[str, Any] = raw) -> str:
        value = source.get(key)
        return value if isinstance(value, str) else ""

    def number(key: str) -> float | None:
        value = valid.get(key)
        return float(value) if isinstance(value, int | float) else None

    return ModelCard(
        version=text("version"), model=text("model"), date=text("date"),
        trained_on=text("trained_on"), intended_use=text("intended_use"),
        redistribution=text("redistribution"), algorithm=text("algo"),
        courses=len(courses) if isinstance(courses, list) else 0,
        mean_course_auc=number("mean_course_auc"), ece=number("ece"),
        build_command=text("command", build),
    )


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
class Readiness:
    """Worker processes with their model loaded (core.worker_status); reachable False: Redis did not
    answer, so nobody knows."""

    reachable: bool
    workers: tuple[readiness.ReadyWorker, ...]


def worker_readiness(client: redis.Redis) -> Readiness:
    try:
        return Readiness(True, tuple(readiness.ready_workers(client)))
    except redis.RedisError:
        return Readiness(False, ())


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

