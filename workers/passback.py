"""Post a student's score to the LMS gradebook (AGS) and read it back: plain functions, no Celery.

Rules:
- An older score never overwrites a newer one: the ScorePassback row keeps the newest score, and
  each post is stamped when it is sent, strictly after the last timestamp sent for the row
  (`lti_tool.core.gradebook.records.stamp_for_sending`).
- A 409 is not success. Moodle answers 409 to a score whose timestamp is not newer than the time
  it *processed* the grade it holds, so after a 409 the result is read back: if the LMS holds
  this score, it is verified; if it holds another one, the score is sent again, stamped after
  the LMS's own time for that grade (at most `RESENDS_PER_DELIVERY` times here; the periodic
  reconciliation, `workers.reconcile`, repairs what is left).
- A score is "verified" only when the LMS's result, read back, matches it. When the result
  cannot be read (the platform refuses the results scope), an accepted score stays "sent".
- Other 4xx are final; 5xx, 429, timeouts and connection failures are transient and retried by
  the caller with backoff (the retry is stamped afresh).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
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
from lti_tool.core.gradebook.records import locked_row, matches, stamp_for_sending, stamp_row
from lti_tool.lms import ags
from lti_tool.lms.ags import Result, Score, ScoreOutcome
from lti_tool.lms.services import ServiceContext, service_context
from lti_tool.lms.tokens import PermanentServiceError, ServiceError
from lti_tool.settings import Settings
from workers import metrics

# Sends of one score within one delivery after the LMS was found holding another score.
RESENDS_PER_DELIVERY = 2


class ScorePoster(Protocol):
    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        """POST the score; raise lti_tool.lms ServiceError (transient or permanent) on failure."""

    def read_result(self, platform_id: int, lineitem_url: str, user_id: str) -> Result | None:
        """GET the user's result (None: no grade); raise ServiceError on failure."""


class LmsPoster:
    """Posts through the shared AGS client (token cache per issuer/client/scopes, 401 refresh)."""

    def __init__(self, db: Database, client: redis.Redis, settings: Settings) -> None:
        self.db = db
        self.redis = client
        self.settings = settings

    def _ctx(self, platform_id: int) -> ServiceContext:
        try:
            return service_context(self.db, self.redis, self.settings, platform_id)
        except LookupError as exc:
            raise PermanentServiceError("the platform is no longer registered") from exc

    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        return ags.post_score(self._ctx(platform_id), lineitem_url, score)

    def read_result(self, platform_id: int, lineitem_url: str, user_id: str) -> Result | None:
        return ags.read_result(self._ctx(platform_id), lineitem_url, user_id)

    def read_all_results(self, platform_id: int, lineitem_url: str) -> dict[str, Result]:
        return ags.read_all_results(self._ctx(platform_id), lineitem_url)


def backoff_s(attempt: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, so many failing posts do not retry in step."""
    return random.uniform(0.5, 1.0) * min(cap, base * (2**attempt))


@dataclass(frozen=True)
class ScoreToSend:
    passback_id: int
    platform_id: int
    lineitem_url: str
    event_id: str | None
    timestamp: datetime  # what this post carries (and the row's sent_timestamp)
    score: Score


def prepare(db: Database, passback_id: int, *, now: datetime | None = None) -> ScoreToSend | None:
    """What to post now, stamped now, or None when there is nothing to do (not pending)."""
    with db.session() as s:
        row = locked_row(s, passback_id)
        if row is None or row.status != PassbackStatus.pending:
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
        stamp = stamp_row(row, now=now)
        score = Score(user.sub, round(row.score_given, 6), row.score_maximum, stamp)
        return ScoreToSend(row.id, activity.platform_id, link.lineitem_url, row.event_id, stamp,
                           score)


def _restamp(db: Database, send: ScoreToSend, not_before: datetime | None) -> ScoreToSend | None:
    stamp = stamp_for_sending(db, send.passback_id, send.event_id, not_before=not_before)
    if stamp is None:
        return None
    return replace(send, timestamp=stamp, score=replace(send.score, timestamp=stamp))


def _finish(db: Database, send: ScoreToSend, **values: Any) -> bool:
    # Only the score that was posted is marked: a newer one recorded meanwhile (another event)
    # or another post of this one (a second task) leaves the row alone.
    with db.session() as s:
        done = s.execute(
            update(ScorePassback)
            .where(
                ScorePassback.id == send.passback_id,
                ScorePassback.event_id == send.event_id,
                ScorePassback.sent_timestamp == send.timestamp,
            )
            .values(**values)
        )
        return bool(getattr(done, "rowcount", 0))


def _note_error(db: Database, passback_id: int, error: str) -> None:
    with db.session() as s:
        s.execute(
            update(ScorePassback)
            .where(ScorePassback.id == passback_id)
            .values(attempts=ScorePassback.attempts + 1, last_error=error[:500])
        )


def _points(held: Result | None, maximum: float) -> float | None:
    fraction = held.fraction if held is not None else None
    return None if fraction is None else fraction * maximum


def _held_text(held: Result | None, maximum: float) -> str:
    points = _points(held, maximum)
    return "no grade" if points is None else f"{points:g} of {maximum:g}"


@metrics.counted_delivery
def deliver(db: Database, poster: ScorePoster, passback_id: int) -> str:
    """Post the row's score and read it back. Returns "verified", "sent" (accepted, result not
    readable), "mismatch", "failed", "nothing" (nothing pending) or "superseded" (a newer score
    was recorded meanwhile; its own task sends it); raises a transient ServiceError for the
    caller to retry."""
    send = prepare(db, passback_id)
    if send is None:
        return "nothing"
    held: Result | None = None
    for _ in range(1 + RESENDS_PER_DELIVERY):
        try:
            outcome = poster.post_score(send.platform_id, send.lineitem_url, send.score)
        except ServiceError as exc:
            _note_error(db, passback_id, str(exc))
            if exc.transient:
                raise
            _finish(db, send, status=PassbackStatus.failed)
            return "failed"
        now = datetime.now(UTC)
        try:
            held = poster.read_result(send.platform_id, send.lineitem_url, send.score.user_id)
        except ServiceError as exc:
            if outcome is ScoreOutcome.accepted:
                # Accepted but not read back: "sent", and the reconciliation reads it later.
                done = _finish(db, send, status=PassbackStatus.sent, sent_at=now,
                               last_error=f"accepted; its result could not be read: {exc}"[:500])
                return "sent" if done else "superseded"
            _note_error(db, passback_id, f"refused as not newer (409); the result could not "
                                         f"be read back: {exc}")
            if exc.transient:
                raise  # the retry sends it again, stamped afresh
            held = None  # unknown: send again once more with a fresher timestamp
        else:
            if matches(held.fraction if held else None, send.score.score_given,
                       send.score.score_maximum):
                done = _finish(db, send, status=PassbackStatus.verified, sent_at=now,
                               checked_at=now, verified_at=now, last_error=None,
                               lms_score=_points(held, send.score.score_maximum))
                return "verified" if done else "superseded"
        # The LMS holds another score: send this one again, after the LMS's time for its grade.
        again = _restamp(db, send, held.timestamp if held is not None else None)
        if again is None:
            return "superseded"
        send = again
    now = datetime.now(UTC)
    done = _finish(db, send, status=PassbackStatus.mismatch, sent_at=now, checked_at=now,
                   lms_score=_points(held, send.score.score_maximum),
                   last_error=f"the LMS still holds {_held_text(held, send.score.score_maximum)}"
                              f" after {1 + RESENDS_PER_DELIVERY} posts of "
                              f"{send.score.score_given:g} of {send.score.score_maximum:g}")
    return "mismatch" if done else "superseded"
