"""What the admin pages show: tool keys, queue depths, the outbox backlog, model versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db.models import (
    EventStatus,
    GradeEvent,
    KeyStatus,
    ModelVersion,
    PassbackStatus,
    ScorePassback,
    ToolKey,
)

QUEUES = ("adapt", "passback", "maintenance")


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


def queue_stats(session: Session, client: redis.Redis) -> QueueStats:
    lengths: dict[str, int | None] = {}
    for name in QUEUES:
        try:
            # The Celery Redis transport keeps each queue as a list named after it.
            lengths[name] = int(client.llen(name))
        except redis.RedisError:
            lengths[name] = None

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
    failed_passbacks = count(
        select(func.count())
        .select_from(ScorePassback)
        .where(ScorePassback.status == PassbackStatus.failed)
    )
    return QueueStats(lengths, backlog, failed_events, failed_passbacks)
