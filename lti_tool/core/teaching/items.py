"""The item statistics page: the questions one activity's students answered, with their
numbers and flags, in natural order of their names ("Q2" before "Q10").

One activity at a time: two activities may use different banks, or the same bank with other
students, and a question's numbers mean "how this activity's students found it".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, Item
from lti_tool.core.itembank.offered import offered_items
from lti_tool.core.teaching.course import ActivityInfo, load_activities, load_skill_names
from lti_tool.core.teaching.item_stats import (
    MIN_ATTEMPTS_FOR_FLAGS,
    ItemStat,
    Response,
    item_statistics,
    natural_key,
)
from lti_tool.core.teaching.student import plain

QUESTION_CHARS = 120


@dataclass
class ItemRow:
    item_id: int
    name: str  # the question's name in its bank, or its text when it has none
    text: str  # its text, short and plain ("" when the name is already the text)
    skills: list[str]
    stat: ItemStat
    archived: bool = False  # deleted from its bank since; its answers are kept


@dataclass
class ItemReport:
    rows: list[ItemRow]
    unanswered: int  # questions of the activity's bank nobody answered there yet
    activities: list[ActivityInfo]  # the course's, in creation order
    activity_id: int | None  # the one shown; None: the course has no activity
    min_attempts: int = MIN_ATTEMPTS_FOR_FLAGS

    @property
    def flagged(self) -> list[ItemRow]:
        return [r for r in self.rows if r.stat.flags]

    @property
    def title(self) -> str:
        return next((a.title for a in self.activities if a.id == self.activity_id), "")


class UnknownActivity(LookupError):
    """The activity asked for is not one of this course's."""


def item_report(session: Session, platform_id: int, context_id: int,
                activity_id: int | None = None) -> ItemReport:
    """Five queries: activities, answers, answered items, skill names, unanswered count.
    Without `activity_id`, the course's first activity. UnknownActivity for another course's."""
    activities = load_activities(session, platform_id, context_id)
    if activity_id is None:
        activity_id = next(iter(activities), None)
    elif activity_id not in activities:
        raise UnknownActivity(activity_id)
    if activity_id is None:
        return ItemReport([], 0, [], None)
    responses = [Response(u, i, bool(c)) for u, i, c in session.execute(
        select(Answer.user_id, Answer.item_id, Answer.correct)
        .where(Answer.activity_id == activity_id))]
    stats = item_statistics(responses)
    answered = {s.item for s in stats}
    items = {i.id: i for i in session.scalars(
        select(Item).where(Item.id.in_(answered)))} if answered else {}
    names = load_skill_names(session, activities,
                             {int(s) for i in items.values() for s in i.skill_ids or []})
    bank = activities[activity_id].bank_id
    total = session.scalar(select(func.count()).select_from(
        offered_items(bank).subquery())) if bank is not None else 0
    unanswered = max(0, int(total or 0) - sum(
        1 for i in items.values() if i.bank_id == bank and i.archived_at is None))
    rows = [_row(s, items.get(s.item), names) for s in stats]
    rows.sort(key=lambda r: (natural_key(r.name), r.item_id))
    return ItemReport(rows, unanswered, list(activities.values()), activity_id)


def _row(stat: ItemStat, item: Item | None, names: dict[int, str]) -> ItemRow:
    if item is None:
        return ItemRow(stat.item, "(deleted question)", "", [], stat, True)
    text = plain(item.text, QUESTION_CHARS)
    name = item.name or text or f"question {item.id}"
    return ItemRow(stat.item, name, text if text != name else "",
                   [names.get(int(k), f"skill {k}") for k in item.skill_ids or []], stat,
                   item.archived_at is not None)
