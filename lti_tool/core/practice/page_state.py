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
from lti_tool.core.answers import shown
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
from lti_tool.core.itembank.offered import offered_items
from lti_tool.core.practice import sets


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


def revision(ps: PracticeSet) -> str:
    """Which state of a set a page shows: the set, and the answer its feedback is as of."""
    return f"{ps.id}.{int((ps.feedback or {}).get('as_of_answer', 0))}"


def current_set(session: Session, place: Place, user_id: int) -> dict[str, Any]:
    """The set the student is on (`lti_tool.core.practice.sets`), or, before the workers
    stored any, the bank's first items."""
    ps = sets.set_at(session, user_id, place.activity_id)
    if ps is not None:
        return {"event_id": ps.event_id, "set_id": ps.id, "revision": revision(ps),
                "items": set_view(session, place, ps.items), "feedback": ps.feedback}
    return {"event_id": None, "set_id": None, "revision": "",
            # No "why" yet: the page says in its own words that this is a first look.
            "items": [public_item(i) for i in first_set(session, place)],
            "feedback": {}}


def set_progress(session: Session, place: Place, user_id: int,
                 state: dict[str, Any]) -> sets.SetProgress:
    """How far the student is through the set `state` shows."""
    row = session.get(PracticeSet, state["set_id"]) if state.get("set_id") else None
    if row is None or row.user_id != user_id:
        row = sets.unstored_first_set(user_id, place.activity_id,
                                      [int(i["item_id"]) for i in state.get("items") or []])
    return sets.progress_in(session, row, tries=place.settings.tries)


def stand_in(session: Session, place: Place, user_id: int, avoid: set[int]) -> Item | None:
    """While the next set is late: the question of the activity's scope the student has
    answered least (then the oldest), not one of the set just finished."""
    counts = dict(session.execute(
        select(Answer.item_id, func.count()).where(
            Answer.user_id == user_id, Answer.activity_id == place.activity_id)
        .group_by(Answer.item_id)).all())
    bank = [i for i in session.scalars(offered_items(place.bank_id))
            if place.settings.in_scope(i.skill_ids or [], i.category or "")
            and i.id not in avoid]
    return min(bank, key=lambda i: (counts.get(i.id, 0), i.id), default=None)


def with_progress(session: Session, place: Place, user_id: int,
                  state: dict[str, Any]) -> dict[str, Any]:
    """`state` with each question's answer in this set (so an answered question is never
    offered again, whatever the workers' delay), "question k of n", and, when the set is
    finished and the next is not there yet, a stand-in question chosen by a simple rule."""
    where = set_progress(session, place, user_id, state)
    items = []
    for item in state.get("items") or []:
        a = where.answered.get(int(item["item_id"]))
        used = where.tries_used(int(item["item_id"]))
        items.append({**item, "answered": None if a is None else {
            "correct": bool(a.correct), "credit": float(a.credit)},
            "tries_left": 0 if a is not None else max(0, place.settings.tries - used)})
    out = {**state, "items": items, "position": where.position, "size": len(where.item_ids),
           "finished": bool(where.item_ids) and where.finished, "stand_in": None,
           "last_set": None if where.tried else last_set(session, place, user_id, where.row)}
    if out["finished"]:
        extra = stand_in(session, place, user_id, set(where.item_ids))
        out["stand_in"] = public_item(extra) if extra is not None else None
    return out


def last_set(session: Session, place: Place, user_id: int,
             row: PracticeSet) -> dict[str, Any] | None:
    """The set the student finished just before `row`, in numbers (right of answered, in all
    and per skill), for the summary the page shows until the new set's first answer."""
    start = sets.started_after(session, row)
    if row.event_id is None or not start:
        return None  # the first set: nothing before it
    before = sets.set_at(session, user_id, place.activity_id, upto_answer_id=start)
    if before is None:
        return None
    done = sets.progress_in(session, before, upto_answer_id=start,
                            tries=place.settings.tries).answered
    if not done:
        return None
    items = {i.id: i for i in session.scalars(
        select(Item).where(Item.id.in_([a.item_id for a in done.values()])))}
    per: dict[int, list[float]] = {}
    for a in done.values():
        item = items.get(a.item_id)
        for k in (item.skill_ids or []) if item is not None else []:
            per.setdefault(int(k), []).append(float(a.credit))
    names = dict(session.execute(select(Skill.id, Skill.name).where(Skill.id.in_(per))).all())
    return {"right": marks(sum(float(a.credit) for a in done.values())), "answered": len(done),
            "skills": [{"skill": k, "name": names.get(k) or "", "right": marks(sum(v)),
                        "answered": len(v)} for k, v in sorted(per.items())]}


def first_set(session: Session, place: Place) -> list[Item]:
    """Before any answer: `set_size` items of the activity's skills and categories, one skill
    after another, so the first answers give the model evidence on every skill."""
    size = place.settings.set_size
    bank = list(session.scalars(
        offered_items(place.bank_id).order_by(Item.id)))
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


def reveal(item: Item, credit: float, answer_feedback: str = "",
           response: dict[str, Any] | None = None, *, tries_left: int = 0,
           tries_used: int = 1) -> dict[str, Any]:
    """What the student sees once the answer is graded, as Moodle's review shows it: whether
    it earned all, part or none of the marks (`credit`), the student's answer, the feedback for
    this answer, and, once the question is closed (right, or no tries left), the right
    answer(s), the item's feedback for a right, partly right or wrong answer, its general
    feedback and the worked solution. Between tries: only this answer's feedback and the next
    hint (Moodle's interactive mode), so the next try is still the student's own. Item HTML
    was sanitised when the bank was imported."""
    verdict = Grade({}, credit)
    final = verdict.correct or tries_left <= 0
    fb = item.feedback or {}
    kind = "correct" if verdict.correct else "partial" if verdict.partial else "incorrect"
    parts = [str(fb.get(kind) or ""), answer_feedback, str(fb.get("general") or "")] \
        if final else [answer_feedback]
    unique: list[str] = []
    for part in parts:
        if part.strip() and part not in unique:
            unique.append(part)
    hints = list(item.hints or [])
    return {"item_id": item.id, "correct": verdict.correct, "partial": verdict.partial,
            "credit_pct": round(100 * verdict.credit), "question": item.text,
            "your_answer": shown.student_answer(item, response or {}),
            "right_answers": shown.right_answers(item) if final else [],
            "feedback": unique, "solution": (item.solution or "") if final else "",
            "final": final, "tries_left": 0 if final else tries_left,
            "hint": "" if final or tries_used > len(hints) else str(hints[tries_used - 1])}


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
    used, left = tries_at(session, place, answer)
    return reveal(item, answer.credit, answer_feedback, dict(answer.response or {}),
                  tries_left=left, tries_used=used)


def tries_at(session: Session, place: Place, answer: Answer) -> tuple[int, int]:
    """(tries used, tries left) on the answer's question in its set, as of that answer."""
    row = sets.set_at(session, answer.user_id, place.activity_id, upto_answer_id=answer.id)
    if row is None:
        row = sets.unstored_first_set(answer.user_id, place.activity_id, [answer.item_id])
    where = sets.progress_in(session, row, upto_answer_id=answer.id, tries=place.settings.tries)
    if answer.item_id not in where.item_ids:
        return 1, 0  # a stand-in outside the set: one try
    used = max(1, where.tries_used(answer.item_id))
    closed = where.answered.get(answer.item_id) is not None
    return used, 0 if closed else max(0, place.settings.tries - used)


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
    state = with_progress(session, place, user_id, state)
    feedback = dict(state.get("feedback") or {})
    feedback["skills"] = mastery_rows(feedback, place.settings)
    book = gradebook(session, place, user_id)
    goal = progress(session, place, user_id, feedback)
    # Done means what the gradebook gets: the score computed is the full points.
    goal["done"] = book is not None and book["maximum"] > 0 and book["given"] >= book["maximum"]
    return {**state, "feedback": feedback, "progress": goal, "gradebook": book,
            "pending": pending_count(session, place, user_id)}
