"""Post a student's score to the LMS gradebook (AGS): plain functions, no Celery.

Rules: an older score never overwrites a newer one (the ScorePassback row keeps the newest,
with a strictly increasing timestamp); a 409 from the LMS means it already holds this or a newer
score, which is success, not an error to retry; other 4xx are final; 5xx, 429, timeouts and
connection failures are transient and retried by the caller with backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update

from lti_tool.db import Database
from lti_tool.db.models import (
    Activity,
    PassbackStatus,
    ResourceLink,
    ScorePassback,
    User,
)
from workers.pipeline import aware


class PassbackError(Exception):
    def __init__(self, message: str, *, status: int | None = None, transient: bool) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class ScorePoster(Protocol):
    def post_score(self, platform_id: int, lineitem_url: str, score: dict[str, Any]) -> None:
        """POST the score; raise PassbackError on any failure."""


def classify(status: int) -> PassbackError | None:
    if status < 300:
        return None
    if status >= 500 or status == 429:
        return PassbackError(f"LMS answered {status}", status=status, transient=True)
    return PassbackError(f"LMS answered {status}", status=status, transient=False)


def backoff_s(attempt: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, so many failing posts do not retry in step."""
    return random.uniform(0.5, 1.0) * min(cap, base * (2**attempt))


@dataclass(frozen=True)
class ScoreToSend:
    passback_id: int
    platform_id: int
    lineitem_url: str
    timestamp: datetime
    body: dict[str, Any]


def score_body(row: ScorePassback, sub: str, stamp: datetime) -> dict[str, Any]:
    return {
        "userId": sub,
        "scoreGiven": round(row.score_given, 6),
        "scoreMaximum": row.score_maximum,
        "timestamp": stamp.isoformat(),
        # Practice never ends, but every posted score is final for its moment: any other
        # gradingProgress would clear the grade in Moodle.
        "activityProgress": "Submitted",
        "gradingProgress": "FullyGraded",
    }


def prepare(db: Database, passback_id: int) -> ScoreToSend | None:
    """What to post now, or None when there is nothing to do (sent already, or not graded)."""
    with db.session() as s:
        row = s.get(ScorePassback, passback_id)
        if row is None or row.status == PassbackStatus.sent:
            return None
        user = s.get(User, row.user_id)
        link = s.get(ResourceLink, row.resource_link_id) if row.resource_link_id else None
        activity = s.get(Activity, row.activity_id)
        if user is None or activity is None:
            return None
        if link is None or not link.lineitem_url:
            row.status = PassbackStatus.failed
            row.last_error = "the LMS gave no grade column (line item) for this activity"
            return None
        stamp = aware(row.score_timestamp)
        return ScoreToSend(row.id, activity.platform_id, link.lineitem_url, stamp,
                           score_body(row, user.sub, stamp))


def _finish(db: Database, send: ScoreToSend, **values: Any) -> None:
    # Only the score that was posted is marked; a newer one queued meanwhile stays pending.
    with db.session() as s:
        s.execute(
            update(ScorePassback)
            .where(
                ScorePassback.id == send.passback_id,
                ScorePassback.score_timestamp == send.timestamp,
            )
            .values(**values)
        )


def deliver(db: Database, poster: ScorePoster, passback_id: int) -> str:
    """Post once. Returns "sent", "superseded" (409), "failed" or "nothing"; raises a transient
    PassbackError for the caller to retry."""
    send = prepare(db, passback_id)
    if send is None:
        return "nothing"
    try:
        poster.post_score(send.platform_id, send.lineitem_url, send.body)
    except PassbackError as exc:
        if exc.status == 409:
            _finish(db, send, status=PassbackStatus.sent, sent_at=datetime.now(UTC),
                    last_error="LMS already holds this or a newer score (409)")
            return "superseded"
        with db.session() as s:
            s.execute(
                update(ScorePassback)
                .where(ScorePassback.id == send.passback_id)
                .values(attempts=ScorePassback.attempts + 1, last_error=str(exc)[:500])
            )
        if exc.transient:
            raise
        _finish(db, send, status=PassbackStatus.failed)
        return "failed"
    _finish(db, send, status=PassbackStatus.sent, sent_at=datetime.now(UTC), last_error=None)
    return "sent"


def give_up(db: Database, passback_id: int, reason: str) -> None:
    with db.session() as s:
        s.execute(
            update(ScorePassback)
            .where(ScorePassback.id == passback_id, ScorePassback.status == PassbackStatus.pending)
            .values(status=PassbackStatus.failed, last_error=reason[:500])
        )


def mark_for_resend(db: Database, passback_id: int, *, now: datetime | None = None) -> bool:
    """Teacher's "resend": the same score under a new, strictly newer timestamp (the LMS
    rejects a repeated one with 409)."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        row = s.get(ScorePassback, passback_id)
        if row is None:
            return False
        stamp = max(now, aware(row.score_timestamp) + timedelta(microseconds=1))
        row.score_timestamp = stamp
        row.status = PassbackStatus.pending
        row.attempts = 0
        row.last_error = None
        return True
