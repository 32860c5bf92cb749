"""The outbox relay: puts events that were stored but never reached the queue onto it.

Runs as a Celery beat task and, throttled, from the web process, so an answer taken while Redis
was down is processed as soon as Redis is back. Re-sending is safe: every step downstream is
idempotent by event id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from lti_tool.core.answers.submit import Sender, mark_enqueued
from lti_tool.core.db import Database
from lti_tool.core.db.models import EventStatus, GradeEvent

log = logging.getLogger("metis.outbox")

# An event queued this long ago and still not processed lost its message (e.g. the whole worker
# host died and the broker will only restore it after its visibility timeout): send it again.
STALE_ENQUEUED = timedelta(minutes=5)


def pending_event_ids(
    db: Database, *, limit: int = 500, now: datetime | None = None,
    stale_after: timedelta = STALE_ENQUEUED,
) -> list[str]:
    now = now or datetime.now(UTC)
    with db.session() as s:
        rows = s.scalars(
            select(GradeEvent.event_id)
            .where(
                or_(
                    GradeEvent.status == EventStatus.stored,
                    (GradeEvent.status == EventStatus.enqueued)
                    & (GradeEvent.enqueued_at < now - stale_after),
                )
            )
            .order_by(GradeEvent.created_at)
            .limit(limit)
        )
        return list(rows)


def relay(db: Database, send: Sender, *, limit: int = 500,
          stale_after: timedelta = STALE_ENQUEUED, now: datetime | None = None) -> int:
    """Send pending events in order; stop at the first broker failure. Returns how many went.
    A stale event that is sent again is stamped enqueued now, so it is re-sent at most once per
    `stale_after`, not on every run."""
    sent = 0
    for event_id in pending_event_ids(db, limit=limit, stale_after=stale_after, now=now):
        try:
            send(event_id)
        except Exception as exc:  # noqa: BLE001 - broker still down: try again on the next run
            log.info("outbox relay paused after %d events: %s", sent, type(exc).__name__)
            break
        mark_enqueued(db, event_id, now=now)
        sent += 1
    if sent:
        log.info("outbox relay sent %d events", sent)
    return sent
