"""The gradebook row of each student in each activity (`ScorePassback`): the newest score Metis
computed for the LMS, its timestamp, and where its delivery stands.

Ordered by answer, not by clock: an older event processed late never overwrites the score of a
newer one. Timestamps sent to the LMS are strictly increasing per row, so the LMS (which refuses
a score that is not newer than the one it holds) never drops a newer score.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.core.activities import from_activity
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    Answer,
    GradeEvent,
    PassbackStatus,
    PracticeSet,
    ScorePassback,
    Skill,
)
from lti_tool.core.gradebook import policies


def next_score_timestamp(candidate: datetime, previous: datetime | None) -> datetime:
    """The timestamp for a new score: whole seconds, strictly after the previous one.

    Moodle keeps a grade's time in whole seconds and answers 409 to a score that is not newer,
    so two scores within one second would drop the second. Stepping a second past the previous
    score keeps every newer score newer on the LMS side too (at worst a few seconds ahead).
    """
    stamp = _utc(candidate).replace(microsecond=0)
    if previous is not None:
        stamp = max(stamp, _utc(previous).replace(microsecond=0) + timedelta(seconds=1))
    return stamp


def _utc(ts: datetime) -> datetime:
    # Column values arrive aware (UtcDateTime); a caller's naive time is taken as UTC too.
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def activity_score(session: Session, activity: Activity, ev: GradeEvent, answer: Answer) -> float:
    """The score fraction by the activity's grading policy, from the answers up to this event
    and, for "mastery", the practice set this event produced, so it is the same whenever the
    event is processed."""
    settings = from_activity(activity)
    answers = [
        bool(c)
        for c in session.scalars(
            select(Answer.correct)
            .where(
                Answer.user_id == ev.user_id,
                Answer.activity_id == ev.activity_id,
                Answer.id <= answer.id,
            )
            .order_by(Answer.id)
        )
    ]
    mastery: dict[int, float] = {}
    bank_skills: list[int] = []
    if settings.grading == "mastery":
        feedback = session.scalar(
            select(PracticeSet.feedback).where(PracticeSet.event_id == ev.event_id)
        )
        mastery = policies.mastery_by_skill(feedback)
        if not settings.skills and activity.bank_id is not None:
            bank_skills = list(
                session.scalars(select(Skill.id).where(Skill.bank_id == activity.bank_id))
            )
    return policies.score(settings, answers, mastery=mastery, bank_skills=bank_skills)


def _score_row(session: Session, ev: GradeEvent) -> ScorePassback | None:
    return session.scalars(
        select(ScorePassback)
        .where(ScorePassback.user_id == ev.user_id, ScorePassback.activity_id == ev.activity_id)
        .with_for_update()
    ).first()


def record_score(session: Session, ev: GradeEvent) -> ScorePassback | None:
    """Upsert the gradebook row unless it already holds a newer score. Returns it if changed."""
    answer = session.get(Answer, ev.answer_id)
    activity = session.get(Activity, ev.activity_id)
    if answer is None or activity is None:
        return None
    stamp = next_score_timestamp(answer.answered_at, None)
    score = activity_score(session, activity, ev, answer) * activity.points
    row = _score_row(session, ev)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ScorePassback(user_id=ev.user_id, activity_id=ev.activity_id,
                                          attempts=0))
                session.flush()
        except IntegrityError:
            pass  # another event of this student made the row a moment ago: use that one
        row = _score_row(session, ev)
        assert row is not None
    if row.event_id is not None:
        current = session.scalar(select(Answer.id).where(Answer.event_id == row.event_id))
        if current is not None and current >= answer.id:
            return None
        # Strictly increasing for the LMS, even after a teacher's resend moved it forward.
        stamp = next_score_timestamp(answer.answered_at, row.score_timestamp)
    row.resource_link_id = ev.resource_link_id or row.resource_link_id
    row.score_given = score
    row.score_maximum = activity.points
    row.score_timestamp = stamp
    row.event_id = ev.event_id
    row.status = PassbackStatus.pending
    row.attempts = 0
    row.last_error = None
    session.flush()
    return row


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
        row.score_timestamp = next_score_timestamp(now, row.score_timestamp)
        row.status = PassbackStatus.pending
        row.attempts = 0
        row.last_error = None
        return True
