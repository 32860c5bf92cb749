"""What the student page shows: the current practice set with its items (never their answers),
read from the database or the Redis cache the workers fill; what an answer reveals (feedback and
worked solution, only after it is graded); hints one at a time; progress toward the activity's
goal and the score sent to the gradebook. Plain data, no Flask and no wording: the page's words
come from the message catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core.activities import ActivitySettings, from_activity
from lti_tool.core.answers.check import Fields, Grade, GradingError, grade
from lti_tool.core.db.models import (
    Activity,
    Answer,
    EventStatus,
    GradeEvent,
    Item,
    PracticeSet,
    ResourceLink,
    ScorePassback,
    Skill,
)
from lti_tool.core.gradebook.completions import completions
from lti_tool.core.gradebook.policies import best_set_right


@dataclass(frozen=True)
class Place:
    """The activity a launch practises in, checked against the launch's platform."""

    activity_id: int
    bank_id: int | None
    title: str
    settings: ActivitySettings


def place_of(session: Session, platform_id: int, resource_link_id: int | None) -> Place | None:
    if resource_link_id is None:
        return None
    link = session.get(ResourceLink, resource_link_id)
    if link is None or link.platform_id != platform_id or link.activity_id is None:
        return None
    activity = session.get(Activity, link.activity_id)
    if activity is None or activity.platform_id != platform_id:
        return None
    return Place(activity.id, activity.bank_id, activity.title, from_activity(activity))


def public_item(item: Item, entry: dict[str, Any] | None = None) -> dict[str, Any]:
    """An item as the browser may see it before answering: no `answer`, no feedback, no
    solution, and only the number of hints (their text comes one at a time from `hint`).
    `entry`: the planned set's entry, whose reason the page words (lti_tool.web.practice_text)."""
    shown: dict[str, Any] = {"item_id": item.id, "kind": item.kind, "text": item.text,
                             "choices": list(item.choices or []), "hints": len(item.hints or []),
                             "why": ""}
    if entry is not None:
        shown.update(why=str(entry.get("why", "")), reason=entry.get("reason"),
                     detail=entry.get("detail"))
    return shown


def set_view(session: Session, place: Place, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [int(e["item_id"]) for e in entries]
    items = {i.id: i for i in session.scalars(
        select(Item).where(Item.id.in_(ids), Item.bank_id == place.bank_id))}
    return [public_item(items[int(e["item_id"])], e) for e in entries if int(e["item_id"]) in items]


def current_set(session: Session, place: Place, user_id: int) -> dict[str, Any]:
    """The set made from the student's newest answer, or the bank's first items before any.

    Ordered by answer, not by when the set was stored: a redelivered older event can be stored
    after a newer one, and its set must not replace the newer set on the page."""
    ps = session.scalars(
        select(PracticeSet)
        .outerjoin(Answer, Answer.event_id == PracticeSet.event_id)
        .where(PracticeSet.user_id == user_id, PracticeSet.activity_id == place.activity_id)
        .order_by(Answer.id.desc().nulls_last(), PracticeSet.id.desc())
        .limit(1)
    ).first()
    if ps is not None:
        return {"event_id": ps.event_id, "set_id": ps.id,
                "items": set_view(session, place, ps.items), "feedback": ps.feedback}
    return {"event_id": None, "set_id": None,
            # No "why" yet: the page says in its own words that this is a first look.
            "items": [public_item(i) for i in first_set(session, place)],
            "feedback": {}}


def first_set(session: Session, place: Place) -> list[Item]:
    """Before any answer: `set_size` items of the activity's skills and categories, one skill
    after another, so the first answers give the model evidence on every skill."""
    size = place.settings.set_size
    bank = list(session.scalars(
        select(Item).where(Item.bank_id == place.bank_id).order_by(Item.id)))
    scoped = [i for i in bank
              if place.settings.in_scope(i.skill_ids or [], i.category or "")] or bank
    by_skill: dict[int, list[Item]] = {}
    for item in scoped:
        by_skill.setdefault(int((item.skill_ids or [0])[0]), []).append(item)
    queues = list(by_skill.values())
    picked: list[Item] = []
    while len(picked) < size and any(queues):
        for queue in queues:
            if queue and len(picked) < size:
                picked.append(queue.pop(0))
    return picked


def pending_count(session: Session, place: Place, user_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(GradeEvent).where(
            GradeEvent.user_id == user_id,
            GradeEvent.activity_id == place.activity_id,
            GradeEvent.status != EventStatus.processed,
        )
    ) or 0)


# --- What an answer reveals ---------------------------------------------------------------


def bank_item(session: Session, place: Place, item_id: int) -> Item | None:
    """The item when it belongs to this activity's bank, else None (never another bank's)."""
    item = session.get(Item, item_id)
    if item is None or place.bank_id is None or item.bank_id != place.bank_id:
        return None
    return item


def reveal(item: Item, credit: float, answer_feedback: str = "") -> dict[str, Any]:
    """What the student sees once the answer is graded: whether it earned all, part or none of
    the marks (`credit`), the feedback for this answer, the item's feedback for a right, partly
    right or wrong answer, its general feedback, and the worked solution. All of it is item
    HTML, sanitised when the bank was imported."""
    verdict = Grade({}, credit)
    fb = item.feedback or {}
    kind = "correct" if verdict.correct else "partial" if verdict.partial else "incorrect"
    parts = [str(fb.get(kind) or ""), answer_feedback, str(fb.get("general") or "")]
    unique: list[str] = []
    for part in parts:
        if part.strip() and part not in unique:
            unique.append(part)
    return {"item_id": item.id, "correct": verdict.correct, "partial": verdict.partial,
            "credit_pct": round(100 * verdict.credit), "question": item.text,
            "feedback": unique, "solution": item.solution or ""}


def _as_form(response: dict[str, Any]) -> Fields:
    """A stored (normalised) response as the form it came from, to grade it again."""
    fields: dict[str, list[str]] = {"choice": [str(n) for n in response.get("choices") or []]}
    for key in ("choice", "value", "text"):
        if key in response:
            fields.setdefault(key, []).append(str(response[key]))
    return Fields(fields)


def answered(session: Session, place: Place, user_id: int, event_id: str) -> dict[str, Any] | None:
    """The reveal for one of this student's answers in this activity (the page after a form
    POST without JS). The per-answer feedback is not stored, so the stored response is graded
    again: grading is a pure function of the item and the response."""
    answer = session.scalars(
        select(Answer).where(Answer.event_id == event_id, Answer.user_id == user_id,
                             Answer.activity_id == place.activity_id)
    ).first()
    if answer is None:
        return None
    item = bank_item(session, place, answer.item_id)
    if item is None:
        return None
    try:
        answer_feedback = grade(item, _as_form(dict(answer.response or {}))).feedback
    except GradingError:
        answer_feedback = ""  # the item changed since; the rest of the reveal still holds
    return reveal(item, answer.credit, answer_feedback)


def hint(session: Session, place: Place, item_id: int, n: int) -> tuple[str, int] | None:
    """Hint `n` (from 0) of an item of this activity's bank and how many there are, or None.
    Only hints: never the answer, the feedback or the solution."""
    item = bank_item(session, place, item_id)
    hints = list(item.hints or []) if item is not None else []
    if not 0 <= n < len(hints):
        return None
    return str(hints[n]), len(hints)


# --- Mastery, progress and the gradebook ----------------------------------------------------


def _share(x: Any) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return 0.0
    return min(1.0, max(0.0, value))


def mastery_rows(feedback: dict[str, Any], settings: ActivitySettings) -> list[dict[str, Any]]:
    """The feedback's skills with whole percentages for the bars and whether each reached the
    activity's threshold (the mean, as the score's "mastery" policy counts it)."""
    rows = []
    for sk in feedback.get("skills") or []:
        mean, low, high = _share(sk.get("mastery")), _share(sk.get("low")), _share(sk.get("high"))
        low, high = min(low, mean), max(high, mean)
        rows.append({**sk, "mastery": mean, "low": low, "high": high,
                     "pct": round(100 * mean), "low_pct": round(100 * low),
                     "high_pct": round(100 * high), "mastered": settings.is_mastered(mean)})
    return rows


def _scope_skills(session: Session, place: Place) -> list[int]:
    if place.settings.skills:
        return list(place.settings.skills)
    return list(session.scalars(select(Skill.id).where(Skill.bank_id == place.bank_id)))


def progress(session: Session, place: Place, user_id: int,
             feedback: dict[str, Any]) -> dict[str, Any]:
    """Where the student stands against the activity's goal, as numbers for the page, counted by
    the same rules (lti_tool.core.gradebook.policies) that make the gradebook score."""
    settings = place.settings
    credits = [float(c) for c in session.scalars(
        select(Answer.credit)
        .where(Answer.user_id == user_id, Answer.activity_id == place.activity_id)
        .order_by(Answer.id)
    )]
    skills = _scope_skills(session, place)
    mastered = {int(r["skill"]) for r in mastery_rows(feedback, settings)
                if r["mastered"] and r.get("skill") is not None}
    completed = completions(session, user_id, place.activity_id) \
        if settings.grading == "completion" else len(credits)
    return {
        "policy": settings.grading,
        "threshold_pct": round(100 * settings.mastery_threshold),
        "skills_total": len(skills),
        "skills_mastered": len(mastered & set(skills)),
        "answers": len(credits),
        # Partly right answers count their share, as in the score.
        "right": marks(sum(credits)),
        "completed": completed,
        "goal": settings.goal,
        "goal_pct": min(100, round(100 * completed / settings.goal)),
        "best_right": marks(best_set_right(credits, settings.set_size)),
        "best_of": settings.set_size,
    }


def marks(value: float) -> int | float:
    """A count of marks for the page: whole when it is whole, else to one decimal."""
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def gradebook(session: Session, place: Place, user_id: int) -> dict[str, Any] | None:
    """The score last computed for the LMS gradebook and whether it got there, or None."""
    row = session.scalars(
        select(ScorePassback).where(ScorePassback.user_id == user_id,
                                    ScorePassback.activity_id == place.activity_id)
    ).first()
    if row is None:
        return None
    return {"given": round(row.score_given, 2), "maximum": round(row.score_maximum, 2),
            "status": str(row.status)}


def page_state(session: Session, place: Place, user_id: int) -> dict[str, Any]:
    """Everything the page shows besides a reveal: the set, the mastery rows, the progress
    toward the goal, the gradebook score, and how many answers are still being processed."""
    state = current_set(session, place, user_id)
    return with_standing(session, place, user_id, state)


def with_standing(session: Session, place: Place, user_id: int,
                  state: dict[str, Any]) -> dict[str, Any]:
    """`state` (a stored or just-published set) with mastery rows, progress and gradebook."""
    feedback = dict(state.get("feedback") or {})
    feedback["skills"] = mastery_rows(feedback, place.settings)
    return {**state, "feedback": feedback,
            "progress": progress(session, place, user_id, feedback),
            "gradebook": gradebook(session, place, user_id),
            "pending": pending_count(session, place, user_id)}
