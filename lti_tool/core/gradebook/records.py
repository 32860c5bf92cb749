"""The gradebook row of each student in each activity (`ScorePassback`): the newest score Metis
computed for the LMS and where it stands there (`PassbackStatus`).

Ordered by answer, not by clock: an older event processed late never overwrites the score of a
newer one. Each post is stamped when it is sent (`stamp_for_sending`), strictly after the last
timestamp sent for the row and after the time the LMS says it stored its grade: Moodle keeps the
time it *processed* a score and refuses (409) any later score that is not newer than that, so a
score stamped with its answer's time is lost whenever the previous one was processed late.
A score is "verified" only once the LMS's own result was read back and matches (`matches`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

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
    ScorePassback,
    Skill,
)
from lti_tool.core.gradebook import policies
from lti_tool.core.gradebook.completions import completions


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


def activity_score(session: Session, activity: Activity, ev: GradeEvent, answer: Answer,
                   feedback: Mapping[str, Any] | None = None) -> float:
    """The score fraction by the activity's grading policy, from the answers (their credit) up
    to this event and, for "mastery", the engine's estimate after this event (`feedback`,
    computed from the same answers), so it is the same whenever the event is processed."""
    settings = from_activity(activity)
    answers = [
        float(c)
        for c in session.scalars(
            select(Answer.credit)
            .where(
                Answer.user_id == ev.user_id,
                Answer.activity_id == ev.activity_id,
                Answer.id <= answer.id,
            )
            .order_by(Answer.id)
        )
    ]
    completed = None
    if settings.grading == "completion":
        completed = completions(session, ev.user_id, ev.activity_id, answer.id)
    mastery: dict[int, float] = {}
    bank_skills: list[int] = []
    if settings.grading == "mastery":
        mastery = policies.mastery_by_skill(feedback)
        if not settings.skills and activity.bank_id is not None:
            bank_skills = list(
                session.scalars(select(Skill.id).where(Skill.bank_id == activity.bank_id))
            )
    return policies.score(settings, answers, mastery=mastery, bank_skills=bank_skills,
                          completed=completed)


def _score_row(session: Session, ev: GradeEvent) -> ScorePassback | None:
    return session.scalars(
        select(ScorePassback)
        .where(ScorePassback.user_id == ev.user_id, ScorePassback.activity_id == ev.activity_id)
        .with_for_update()
    ).first()


def record_score(session: Session, ev: GradeEvent,
                 feedback: Mapping[str, Any] | None = None) -> ScorePassback | None:
    """Upsert the gradebook row unless it already holds a newer score. Returns it if changed.
    `feedback`: the engine's feedback for this event (its mastery estimates)."""
    answer = session.get(Answer, ev.answer_id)
    activity = session.get(Activity, ev.activity_id)
    if answer is None or activity is None:
        return None
    score = activity_score(session, activity, ev, answer, feedback) * activity.points
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
    row.resource_link_id = ev.resource_link_id or row.resource_link_id
    row.score_given = score
    row.score_maximum = activity.points
    row.score_timestamp = _utc(answer.answered_at)
    row.event_id = ev.event_id
    row.status = PassbackStatus.pending
    row.attempts = 0
    row.repairs = 0
    row.last_error = None
    session.flush()
    return row


def stamp_row(row: ScorePassback, *, now: datetime | None = None,
              not_before: datetime | None = None) -> datetime:
    """Stamp the row's score for a post about to be sent (the caller holds the row locked):
    now, in whole seconds, strictly after the last timestamp sent for the row and after
    `not_before` (the time the LMS says it stored the grade it holds). Kept on the row before
    the post leaves, so a retry, a crash or a second worker never reuses a timestamp."""
    stamp = next_score_timestamp(now or datetime.now(UTC), row.sent_timestamp)
    if not_before is not None:
        stamp = max(stamp, next_score_timestamp(not_before, not_before))
    row.sent_timestamp = stamp
    return stamp


def locked_row(session: Session, passback_id: int) -> ScorePassback | None:
    return session.scalars(select(ScorePassback).where(ScorePassback.id == passback_id)
                           .with_for_update()).first()


def stamp_for_sending(db: Database, passback_id: int, event_id: str | None, *,
                      now: datetime | None = None,
                      not_before: datetime | None = None) -> datetime | None:
    """`stamp_row` for the row's score of `event_id`; None when the row no longer has that
    score to send (a newer one was recorded, or another post finished it)."""
    with db.session() as s:
        row = locked_row(s, passback_id)
        if row is None or row.status != PassbackStatus.pending or row.event_id != event_id:
            return None
        return stamp_row(row, now=now, not_before=not_before)


# The LMS keeps a few decimals of points (Moodle: 5); compared as shares of the maximum.
MATCH_TOLERANCE = 1e-4


def matches(held_fraction: float | None, score_given: float, score_maximum: float) -> bool:
    """Whether the LMS's result (its score as a share of its maximum) is this score."""
    if held_fraction is None or score_maximum <= 0:
        return False
    return abs(held_fraction - score_given / score_maximum) <= MATCH_TOLERANCE


def give_up(db: Database, passback_id: int, reason: str) -> None:
    with db.session() as s:
        s.execute(
            update(ScorePassback)
            .where(ScorePassback.id == passback_id, ScorePassback.status == PassbackStatus.pending)
            .values(status=PassbackStatus.failed, last_error=reason[:500])
        )


def mark_for_resend(db: Database, passback_id: int) -> bool:
    """Teacher's "resend": the same score again (stamped, like every post, when it is sent, so
    strictly newer than anything sent before), with the automatic repairs counted afresh."""
    with db.session() as s:
        row = s.get(ScorePassback, passback_id)
        if row is None:
            return False
        row.status = PassbackStatus.pending
        row.attempts = 0
        row.repairs = 0
        row.last_error = None
        return True
