"""Post a student's score to the LMS gradebook (AGS): plain functions, no Celery.

Rules: an older score never overwrites a newer one (the ScorePassback row keeps the newest,
with a strictly increasing timestamp); a 409 from the LMS means it already holds this or a newer
score, which is success, not an error to retry; other 4xx are final; 5xx, 429, timeouts and
connection failures are transient and retried by the caller with backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
from sqlalchemy import update

from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    PassbackStatus,
    ResourceLink,
    ScorePassback,
    User,
)
from lti_tool.lms import ags
from lti_tool.lms.ags import Score, ScoreOutcome
from lti_tool.lms.services import service_context
from lti_tool.lms.tokens import PermanentServiceError, ServiceError
from lti_tool.settings import Settings


class ScorePoster(Protocol):
    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        """POST the score; raise lti_tool.lms ServiceError (transient or permanent) on failure."""


class LmsPoster:
    """Posts through the shared AGS client (token cache per issuer/client/scopes, 401 refresh)."""

    def __init__(self, db: Database, client: redis.Redis, settings: Settings) -> None:
        self.db = db
        self.redis = client
        self.settings = settings

    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        try:
            ctx = service_context(self.db, self.redis, self.settings, platform_id)
        except LookupError as exc:
            raise PermanentServiceError("the platform is no longer registered") from exc
        return ags.post_score(ctx, lineitem_url, score)


def backoff_s(attempt: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, so many failing posts do not retry in step."""
    return random.uniform(0.5, 1.0) * min(cap, base * (2**attempt))


@dataclass(frozen=True)
class ScoreToSend:
    passback_id: int
    platform_id: int
    lineitem_url: str
    timestamp: datetime
    score: Score


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
        stamp = row.score_timestamp
        score = Score(user.sub, round(row.score_given, 6), row.score_maximum, stamp)
        return ScoreToSend(row.id, activity.platform_id, link.lineitem_url, stamp, score)


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
    ServiceError for the caller to retry."""
    send = prepare(db, passback_id)
    if send is None:
        return "nothing"
    try:
        outcome = poster.post_score(send.platform_id, send.lineitem_url, send.score)
    except ServiceError as exc:
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
    if outcome is ScoreOutcome.superseded:
        _finish(db, send, status=PassbackStatus.sent, sent_at=datetime.now(UTC),
                last_error="LMS already holds this or a newer score (409)")
        return "superseded"
    _finish(db, send, status=PassbackStatus.sent, sent_at=datetime.now(UTC), last_error=None)
    return "sent"
