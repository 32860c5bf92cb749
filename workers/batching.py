"""Which events one adapt task takes on: its own, plus the others waiting at that moment.

Each event has its own Celery message; the messages are wake-ups, the database is the source of
truth. A task claims other waiting events in Redis (SET NX with a TTL) so two workers do not
batch the same ones, processes them in one batched adaptation, and when those events' own
messages arrive they find the events processed and return. A claim never blocks an event's own
message, so a claimer that dies loses nothing: the own message (redelivered if need be) still
processes the event.
"""

from __future__ import annotations

import time

import redis
from sqlalchemy import select

from lti_tool.core import redis_keys
from lti_tool.core.db import Database
from lti_tool.core.db.models import EventStatus, GradeEvent

CLAIM_TTL_S = 60


def claim_key(event_id: str) -> str:
    return redis_keys.ADAPT_CLAIM.format(event=event_id)


def waiting(db: Database, limit: int, exclude: set[str]) -> list[str]:
    with db.session() as s:
        rows = s.scalars(
            select(GradeEvent.event_id)
            .where(GradeEvent.status.in_([EventStatus.enqueued, EventStatus.stored]))
            .order_by(GradeEvent.created_at)
            .limit(limit + len(exclude))
        )
        return [e for e in rows if e not in exclude][:limit]


def collect(
    db: Database,
    client: redis.Redis,
    own_event_id: str,
    owner: str,
    *,
    max_size: int,
    wait_ms: float,
) -> list[str]:
    """The batch for the task that owns `own_event_id`: it first, then claimed others."""
    client.set(claim_key(own_event_id), owner, ex=CLAIM_TTL_S)
    batch = [own_event_id]
    if max_size <= 1:
        return batch
    deadline = time.monotonic() + wait_ms / 1000.0
    while True:
        for event_id in waiting(db, max_size - len(batch), set(batch)):
            if client.set(claim_key(event_id), owner, ex=CLAIM_TTL_S, nx=True):
                batch.append(event_id)
        # Under load more events are arriving: wait a few ms for them, never longer.
        if len(batch) == 1 or len(batch) >= max_size or time.monotonic() >= deadline:
            return batch
        time.sleep(min(0.001, max(0.0, deadline - time.monotonic())))


def release(client: redis.Redis, event_ids: list[str], owner: str) -> None:
    for event_id in event_ids:
        key = claim_key(event_id)
        if client.get(key) == owner.encode():
            client.delete(key)
