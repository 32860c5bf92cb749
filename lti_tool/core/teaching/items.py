"""The item statistics page: each question this course answered, with its numbers and flags."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, Item
from lti_tool.core.teaching.course import load_activities, load_skill_names
from lti_tool.core.teaching.item_stats import ItemStat, Response, item_statistics
from lti_tool.core.teaching.student import plain


@dataclass
class ItemRow:
    item_id: int
    name: str
    skills: list[str]
    stat: ItemStat


@dataclass
class ItemReport:
    rows: list[ItemRow]
    unanswered: int  # questions in the course's banks nobody answered yet

    @property
    def flagged(self) -> list[ItemRow]:
        return [r for r in self.rows if r.stat.flags]


def item_report(session: Session, platform_id: int, context_id: int) -> ItemReport:
    """Five queries: activities, answers, answered items, skill names, unanswered count."""
    activities = load_activities(session, platform_id, context_id)
    responses = [Response(u, i, bool(c)) for u, i, c in session.execute(
        select(Answer.user_id, Answer.item_id, Answer.correct)
        .where(Answer.activity_id.in_(list(activities))))]
    stats = item_statistics(responses)
    answered = {s.item for s in stats}
    items = {i.id: i for i in session.scalars(
        select(Item).where(Item.id.in_(answered)))} if answered else {}
    names = load_skill_names(session, activities,
                             {int(s) for i in items.values() for s in i.skill_ids or []})
    banks = {a.bank_id for a in activities.values() if a.bank_id is not None}
    total = session.scalar(select(func.count(Item.id)).where(Item.bank_id.in_(banks))) \
        if banks else 0
    unanswered = max(0, int(total or 0) - len({i for i in items.values()
                                               if i.bank_id in banks}))
    rows = [ItemRow(s.item, _name(items.get(s.item)),
                    [names.get(int(k), f"skill {k}") for k in
                     (items[s.item].skill_ids or [] if s.item in items else [])], s)
            for s in stats]
    # The questions that need a look first, then by name.
    rows.sort(key=lambda r: (not r.stat.flags, r.name.lower(), r.item_id))
    return ItemReport(rows, unanswered)


def _name(item: Item | None) -> str:
    if item is None:
        return "(deleted question)"
    return item.name or plain(item.text) or f"question {item.id}"
