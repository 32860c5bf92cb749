"""A student's data: everything Metis stores about one person, exported or erased.

Students are stored under the platform's pseudonymous `sub`; names and email only when the
platform shares them in the launch (lti_tool/lti/records.py). Erasing removes the person's
answers, grade events, practice sets, scores, launches and identity from the database, and the
Redis copies keyed by them, so that neither the pages nor retraining (which reads answers from
the database: workers/maintenance.py `answer_records`) can see them again.

Not removed, because they hold no one's data: online item-difficulty estimates (one number per
item, folded from many students' answers) and model checkpoints trained before the erasure
(item and skill parameters; student state is recomputed from stored answers, never saved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lti_tool.core import redis_keys
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    Answer,
    Context,
    GradeEvent,
    Launch,
    Platform,
    PracticeSet,
    ResourceLink,
    ScorePassback,
    User,
)

# Redis keys that name a user or one of their events (their writers use the same formats).
PRACTICE_PATTERN = redis_keys.PRACTICE_SET.format(user="{user}", activity="*")
RESUME_PATTERN = redis_keys.RESUME_POINT.format(user="{user}", context="*")
EVENT_KEYS = (redis_keys.TIMINGS, redis_keys.ADAPT_CLAIM)
TABLES_EVENT_PATTERN = redis_keys.COURSE_TABLES_EVENT.format(version="*", course="*",
                                                            event="*")


class PrivacyError(Exception):
    """Bad operator input (no such person); the message says what to fix."""


def find_user(
    session: Session,
    *,
    user_id: int | None = None,
    platform_id: int | None = None,
    sub: str | None = None,
) -> User:
    """The person by our user id, or by platform id and the LMS's `sub`."""
    if user_id is not None:
        if platform_id is not None or sub is not None:
            raise PrivacyError("give either --user or --platform-id with --sub, not both")
        user = session.get(User, user_id)
        if user is None:
            raise PrivacyError(f"no user with id {user_id}")
        return user
    if platform_id is None or not sub:
        raise PrivacyError("say who: --user ID, or --platform-id N with --sub SUB")
    user = session.scalar(select(User).where(User.platform_id == platform_id, User.sub == sub))
    if user is None:
        raise PrivacyError(f"no user with sub {sub!r} on platform {platform_id}")
    return user


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def export_user(session: Session, user_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data."""
    user = find_user(session, user_id=user_id)
    platform = session.get(Platform, user.platform_id)
    titles = dict(
        session.execute(
            select(Activity.id, Activity.title).where(
                Activity.id.in_(select(Answer.activity_id).where(Answer.user_id == user.id))
                | Activity.id.in_(
                    select(ScorePassback.activity_id).where(ScorePassback.user_id == user.id)
                )
                | Activity.id.in_(
                    select(PracticeSet.activity_id).where(PracticeSet.user_id == user.id)
                )
            )
        ).all()
    )

    launches = []
    for launch, course, link in session.execute(
        select(Launch, Context, ResourceLink)
        .outerjoin(Context, Context.id == Launch.context_id)
        .outerjoin(ResourceLink, ResourceLink.id == Launch.resource_link_id)
        .where(Launch.user_id == user.id)
        .order_by(Launch.id)
    ).all():
        launches.append(
            {
                "launch_id": launch.launch_id,
                "at": _iso(launch.created_at),
                "message_type": launch.message_type,
                "role": launch.role,
                "roles": list(launch.roles or []),
                "course": {"id": course.context_id, "title": course.title} if course else None,
                "resource_link": (
                    {"id": link.resource_link_id, "title": link.title} if link else None
                ),
            }
        )
    answers = [
        {
            "id": a.id,
            "event_id": a.event_id,
            "activity_id": a.activity_id,
            "activity": titles.get(a.activity_id),
            "item_id": a.item_id,
            "response": a.response,
            "correct": a.correct,
            "credit": a.credit,  # the share of the marks (partial credit)
            "answered_at": _iso(a.answered_at),
        }
        for a in session.scalars(
            select(Answer).where(Answer.user_id == user.id).order_by(Answer.id)
        )
    ]
    events = [
        {
            "event_id": e.event_id,
            "answer_id": e.answer_id,
            "activity_id": e.activity_id,
            "status": str(e.status),
            "attempts": e.attempts,
            "created_at": _iso(e.created_at),
            "processed_at": _iso(e.processed_at),
            "last_error": e.last_error,
            "deployment_id": e.deployment_id,
            "resource_link_id": e.resource_link_id,
        }
        for e in session.scalars(
            select(GradeEvent)
            .where(GradeEvent.user_id == user.id)
            .order_by(GradeEvent.created_at, GradeEvent.event_id)
        )
    ]
    sets = [
        {
            "id": p.id,
            "activity_id": p.activity_id,
            "activity": titles.get(p.activity_id),
            "event_id": p.event_id,
            "items": p.items,
            "feedback": p.feedback,
            "model_version": p.model_version,
            "created_at": _iso(p.created_at),
        }
        for p in session.scalars(
            select(PracticeSet).where(PracticeSet.user_id == user.id).order_by(PracticeSet.id)
        )
    ]
    scores = [
        {
            "activity_id": sc.activity_id,
            "activity": titles.get(sc.activity_id),
            "score_given": sc.score_given,
            "score_maximum": sc.score_maximum,
            "score_timestamp": _iso(sc.score_timestamp),
            "gradebook_status": str(sc.status),
            "sent_at": _iso(sc.sent_at),
            # What the LMS's own result said when last read back, and when.
            "gradebook_score": sc.lms_score,
            "checked_at": _iso(sc.checked_at),
            "last_error": sc.last_error,
        }
        for sc in session.scalars(
            select(ScorePassback)
            .where(ScorePassback.user_id == user.id)
            .order_by(ScorePassback.id)
        )
    ]
    return {
        "exported_at": _iso(now or datetime.now(UTC)),
        "user": {
            "id": user.id,
            "platform": {
                "id": user.platform_id,
                "issuer": platform.issuer if platform else None,
                "name": platform.name if platform else None,
            },
            "sub": user.sub,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
        },
        "launches": launches,
        "answers": answers,
        "grade_events": events,
        "practice_sets": sets,
        "scores": scores,
    }


@dataclass
class Erasure:
    """What an erasure removed (row counts per table, Redis keys)."""

    user_id: int
    rows: dict[str, int] = field(default_factory=dict)
    redis_keys: int = 0
    redis_error: str | None = None

    def lines(self) -> list[str]:
        out = [f"erased user {self.user_id}:"]
        out += [f"  {n} {what}" for what, n in self.rows.items()]
        if self.redis_error:
            out.append(
                f"  warning: Redis was not cleaned ({self.redis_error}); its copies (current "
                "practice set, launch data) expire by themselves within a day"
            )
        else:
            out.append(f"  {self.redis_keys} cached Redis entries")
        return out


@dataclass(frozen=True)
class _Keys:
    launch_ids: list[str]
    event_ids: set[str]
    platform_id: int


def _erase_rows(session: Session, user: User) -> tuple[dict[str, int], _Keys]:
    uid = user.id
    launch_ids = list(session.scalars(select(Launch.launch_id).where(Launch.user_id == uid)))
    event_ids = set(session.scalars(select(Answer.event_id).where(Answer.user_id == uid)))
    event_ids |= set(session.scalars(select(GradeEvent.event_id).where(GradeEvent.user_id == uid)))
    # Explicit deletes in foreign-key order: counted, and not reliant on ON DELETE CASCADE.
    rows: dict[str, int] = {}
    for what, model, column in (
        ("grade events", GradeEvent, GradeEvent.user_id),
        ("practice sets", PracticeSet, PracticeSet.user_id),
        ("scores", ScorePassback, ScorePassback.user_id),
        ("answers", Answer, Answer.user_id),
        ("launches", Launch, Launch.user_id),
        ("identity rows", User, User.id),
    ):
        result = session.execute(delete(model).where(column == uid))
        rows[what] = int(getattr(result, "rowcount", 0) or 0)
    return rows, _Keys(launch_ids, event_ids, user.platform_id)


def _erase_redis(client: redis.Redis, user_id: int, keys: _Keys) -> int:
    doomed = [k.decode() if isinstance(k, bytes) else str(k)
              for pattern in (PRACTICE_PATTERN, RESUME_PATTERN)
              for k in client.scan_iter(match=pattern.format(user=user_id), count=500)]
    doomed += [redis_keys.launch_data(x) for x in keys.launch_ids]
    # The cached NRPS rosters of the person's platform hold their name and email for a minute.
    doomed += [k.decode() if isinstance(k, bytes) else str(k) for k in client.scan_iter(
        match=redis_keys.ROSTER.format(platform=keys.platform_id, context="*"), count=500)]
    doomed += [fmt.format(event=e) for e in keys.event_ids for fmt in EVENT_KEYS]
    if keys.event_ids:
        for raw in client.scan_iter(match=TABLES_EVENT_PATTERN, count=1000):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            if key.rsplit(":", 1)[-1] in keys.event_ids:
                doomed.append(key)
    removed = 0
    for start in range(0, len(doomed), 500):
        removed += int(client.delete(*doomed[start : start + 500]))
    return removed


def erase_user(db: Database, client: redis.Redis | None, user_id: int) -> Erasure:
    """Delete everything stored about the person; the database first (one transaction), then
    the Redis copies keyed by them."""
    with db.session() as s:
        user = find_user(s, user_id=user_id)
        rows, keys = _erase_rows(s, user)
    erasure = Erasure(user_id, rows)
    if client is None:
        erasure.redis_error = "no Redis configured"
        return erasure
    try:
        erasure.redis_keys = _erase_redis(client, user_id, keys)
    except redis.RedisError as exc:
        erasure.redis_error = type(exc).__name__
    return erasure

