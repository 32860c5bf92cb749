"""One student's page for the teacher: their answers, their mastery over time per skill, and
their score in the gradebook. Only for a student who has something in this course."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, Item, Launch, User
from lti_tool.core.teaching.course import (
    ActivityInfo,
    Cell,
    CourseData,
    MasteryPoint,
    StudentData,
    answer_row,
    by_activity,
    current_mastery,
    load_activities,
    load_passbacks,
    load_sets,
    load_skill_names,
)

SNIPPET_CHARS = 90
_TAG = re.compile(r"<[^>]*>")


def plain(markup: str, limit: int = SNIPPET_CHARS) -> str:
    """Sanitised item HTML as a one-line plain-text snippet (the template escapes it again)."""
    text = " ".join(html.unescape(_TAG.sub(" ", markup or "")).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class AnswerLine:
    at: datetime
    activity: str
    question: str
    correct: bool
    response: str
    credit: float = 0.0  # the share of the marks; between 0 and 1 (exclusive): partly right
    archived: bool = False  # the question was deleted or edited in its bank since

    @property
    def partial(self) -> bool:
        return not self.correct and self.credit > 0


@dataclass(frozen=True)
class MasteryLine:
    """The student's mastery of one skill in one activity, and its estimates over time."""

    activity_id: int
    activity: str
    skill_id: int
    name: str
    cell: Cell | None
    history: list[MasteryPoint]


@dataclass
class StudentDetail:
    user_id: int
    name: str | None  # None: the LMS shares no name (the page says so, with `lms_id`)
    lms_id: str
    answers: list[AnswerLine]
    history: dict[int, list[MasteryPoint]]
    lines: list[MasteryLine]  # by activity (in creation order), then by skill name
    passbacks: list[dict[str, Any]]
    sets: int
    activities: dict[int, ActivityInfo] = field(default_factory=dict)  # the course's

    @property
    def activity_ids(self) -> list[int]:
        """The activities the student has mastery evidence in, in creation order."""
        return sorted({line.activity_id for line in self.lines})

    @property
    def several(self) -> bool:
        """Evidence in more than one activity: the page then offers one at a time."""
        return len(self.activity_ids) > 1

    def shown_activity(self, wanted: int | None, linked: int | None = None) -> int | None:
        """The activity the mastery section shows: `wanted` if the student has evidence there
        (None if not), else the teacher's link's activity when it has some, else the first."""
        ids = self.activity_ids
        if wanted is not None:
            return wanted if wanted in ids else None
        if linked in ids:
            return linked
        return ids[0] if ids else None

    def lines_of(self, activity_id: int | None) -> list[MasteryLine]:
        return [line for line in self.lines if line.activity_id == activity_id]

    def threshold(self, activity_id: int) -> float:
        return self.activities[activity_id].mastery_threshold

    def title(self, activity_id: int) -> str:
        return _title(self.activities, activity_id)


def set_order(lines: list[MasteryLine]) -> dict[int, int]:
    """Course-wide set number -> its place among the sets of these lines (1 = the first): one
    activity's chart counts that activity's sets, not those of the others in between."""
    numbers = sorted({p.set_number for line in lines for p in line.history})
    return {n: k + 1 for k, n in enumerate(numbers)}


def describe_response(item: Item, response: dict[str, Any]) -> str:
    """What the student answered, in words: the chosen options' text for choice questions,
    the number or text typed otherwise, and how many hints they opened first."""
    if not isinstance(response, dict):
        return ""
    text = _answer_text(item, {k: v for k, v in response.items() if k != "hints"})
    hints = response.get("hints")
    if isinstance(hints, int) and hints > 0:
        return f"{text} (after {hints} hint{'s' if hints > 1 else ''})"
    return text


def _answer_text(item: Item, response: dict[str, Any]) -> str:
    choices = item.choices if isinstance(item.choices, list) else []

    def option(raw: Any) -> str:
        try:
            n = int(raw)
        except (TypeError, ValueError):
            return str(raw)
        return plain(str(choices[n]), 60) if 0 <= n < len(choices) else f"option {n + 1}"

    if "choices" in response and isinstance(response["choices"], list):
        return "; ".join(option(c) for c in response["choices"]) or "(nothing ticked)"
    if "choice" in response:
        return option(response["choice"])
    if "value" in response:
        value = response["value"]
        return f"{value:g}" if isinstance(value, int | float) else str(value)
    if "text" in response:
        return str(response["text"])
    return ", ".join(f"{k}: {v}" for k, v in sorted(response.items()))


def student_detail(session: Session, platform_id: int, context_id: int, user_id: int
                   ) -> StudentDetail | None:
    """None when the user is not on this platform or has nothing in this course (so another
    course's student id gives a 404, not their data)."""
    user = session.get(User, user_id)
    if user is None or user.platform_id != platform_id:
        return None
    activities = load_activities(session, platform_id, context_id)
    # The answers with their items in one query: the page shows responses and question text.
    pairs: list[tuple[Answer, Item]] = [(a, i) for a, i in session.execute(
        select(Answer, Item).join(Item, Item.id == Answer.item_id)
        .where(Answer.activity_id.in_(list(activities)), Answer.user_id == user_id)
        .order_by(Answer.answered_at, Answer.id))]
    answers = [answer_row(a, i) for a, i in pairs]
    n_sets, history = load_sets(session, activities, user_id).get(user_id, (0, {}))
    passbacks = load_passbacks(session, activities, user_id).get(user_id, [])
    launched = session.scalar(select(Launch.id).where(
        Launch.platform_id == platform_id, Launch.context_id == context_id,
        Launch.user_id == user_id).limit(1)) is not None
    if not (answers or n_sets or passbacks or launched):
        return None
    seen = {s for a in answers for s in a.skill_ids} | set(history)
    names = load_skill_names(session, activities, seen)
    for s in seen - set(names):
        names[s] = f"skill {s}"
    student = StudentData(answers, history, n_sets, passbacks)
    data = CourseData(activities, names, {user.id: user},
                      {user.id} if launched else set(), {user.id: student})
    lines = [AnswerLine(row.answered_at, _title(activities, a.activity_id), _question(item),
                        row.correct, describe_response(item, a.response), a.credit,
                        item.archived_at is not None)
             for (a, item), row in zip(pairs, answers, strict=True)]
    return StudentDetail(
        user.id, user.name or None, user.sub, list(reversed(lines)),
        history, mastery_lines(data, student), passbacks, n_sets, activities)


def mastery_lines(data: CourseData, student: StudentData) -> list[MasteryLine]:
    """One line per activity and skill the student has evidence on, each from that activity's
    answers and sets only (as on the class overview)."""
    out: list[MasteryLine] = []
    for activity_id, part in sorted(by_activity(student).items()):
        cells = current_mastery(data, part)
        title = _title(data.activities, activity_id)
        for sid in data.by_name(set(cells) | set(part.history)):
            out.append(MasteryLine(activity_id, title, sid,
                                   data.skill_names.get(sid, f"skill {sid}"), cells.get(sid),
                                   part.history.get(sid, [])))
    return out


def _title(activities: dict[int, ActivityInfo], activity_id: int) -> str:
    info = activities.get(activity_id)
    return info.title if info else ""


def _question(item: Item) -> str:
    return item.name or plain(item.text)
