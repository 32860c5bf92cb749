"""What the "completion" policy counts: one completion per question of a practice set.

A set is kept until all its questions are answered (`lti_tool.core.practice.sets`), and each
of its questions is graded once, so an answer belongs to the set the student was on when they
gave it: the newest set planned before it. An answer to a question outside that set (a stale
page of an earlier set) is graded but completes nothing; before any set is stored (the
activity's first questions) each question counts once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, PracticeSet
from lti_tool.core.parsing import parse_id


@dataclass(frozen=True)
class ShownSet:
    set_id: int
    started_after: int  # the answer id the set was planned after (0: before any answer)
    item_ids: Collection[int]


def count_completions(answers: Sequence[tuple[int, int]], sets: Sequence[ShownSet]) -> int:
    """`answers`: (answer id, item id); `sets`: the student's sets in this activity."""
    ordered = sorted(sets, key=lambda s: (s.started_after, s.set_id))
    starts = [s.started_after for s in ordered]
    counted: set[tuple[int | None, int]] = set()
    for answer_id, item_id in answers:
        n = bisect_left(starts, answer_id)  # sets planned strictly before this answer
        if n == 0:
            counted.add((None, item_id))
        elif item_id in ordered[n - 1].item_ids:
            counted.add((ordered[n - 1].set_id, item_id))
    return len(counted)


def set_item_ids(entries: Any) -> frozenset[int]:
    """The item ids of a stored set's `items` ([{"item_id": ..., ...}]); malformed entries
    are skipped."""
    found = (parse_id(e.get("item_id")) for e in entries or [] if isinstance(e, dict))
    return frozenset(i for i in found if i is not None)


def completions(session: Session, user_id: int, activity_id: int,
                up_to_answer_id: int | None = None) -> int:
    """The student's completions in the activity, counting answers up to `up_to_answer_id`."""
    query = (select(Answer.id, Answer.item_id)
             .where(Answer.user_id == user_id, Answer.activity_id == activity_id))
    if up_to_answer_id is not None:
        query = query.where(Answer.id <= up_to_answer_id)
    answers = [(int(aid), int(item)) for aid, item in session.execute(query)]
    start = select(Answer.id).where(Answer.event_id == PracticeSet.event_id).scalar_subquery()
    sets = [ShownSet(set_id, int(after or 0), set_item_ids(items)) for set_id, after, items
            in session.execute(
                select(PracticeSet.id, start, PracticeSet.items)
                .where(PracticeSet.user_id == user_id, PracticeSet.activity_id == activity_id))]
    return count_completions(answers, sets)
