"""What the "completion" policy counts: one completion per item of a practice set, however often
the item is answered while that set is shown.

An answer belongs to the set the student was shown: the newest set stored before the answer,
or the one before it (a page can still show the previous set for a moment after the next one is
stored, and a page without script shows the set it was rendered with). An answer to an item of
neither set completes nothing; before any set is stored (the activity's first questions) each
item counts once. Consecutive sets of the same questions are one set to the student (the page
shows the same questions), so they count as one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, PracticeSet
from lti_tool.core.parsing import parse_id

# How many of the newest sets an answer may belong to (the one shown, and the one before it).
SHOWN_SETS = 2


@dataclass(frozen=True)
class ShownSet:
    set_id: int
    created_at: datetime
    item_ids: Collection[int]


def count_completions(answers: Sequence[tuple[int, datetime]], sets: Sequence[ShownSet]) -> int:
    """`answers`: (item id, answered at) in answer order; `sets`: in the order they were stored."""
    ordered = sorted(sets, key=lambda s: (s.created_at, s.set_id))
    times = [s.created_at for s in ordered]
    # One key per run of sets with the same questions: the first set of the run.
    runs: list[int] = []
    for n, shown_set in enumerate(ordered):
        same = n > 0 and set(shown_set.item_ids) == set(ordered[n - 1].item_ids)
        runs.append(runs[-1] if same else shown_set.set_id)
    counted: set[tuple[int | None, int]] = set()
    for item_id, at in answers:
        end = bisect_right(times, at)
        if end == 0:
            counted.add((None, item_id))
            continue
        for n in range(end - 1, max(0, end - SHOWN_SETS) - 1, -1):  # the newest set first
            key = (runs[n], item_id)
            if item_id in ordered[n].item_ids and key not in counted:
                counted.add(key)
                break
    return len(counted)


def set_item_ids(entries: Any) -> frozenset[int]:
    """The item ids of a stored set's `items` ([{"item_id": ..., ...}]); malformed entries
    are skipped."""
    found = (parse_id(e.get("item_id")) for e in entries or [] if isinstance(e, dict))
    return frozenset(i for i in found if i is not None)


def completions(session: Session, user_id: int, activity_id: int,
                up_to_answer_id: int | None = None) -> int:
    """The student's completions in the activity, counting answers up to `up_to_answer_id`."""
    query = (select(Answer.item_id, Answer.answered_at)
             .where(Answer.user_id == user_id, Answer.activity_id == activity_id)
             .order_by(Answer.id))
    if up_to_answer_id is not None:
        query = query.where(Answer.id <= up_to_answer_id)
    answers = [(int(item), at) for item, at in session.execute(query)]
    sets = [ShownSet(set_id, at, set_item_ids(items)) for set_id, at, items in session.execute(
        select(PracticeSet.id, PracticeSet.created_at, PracticeSet.items)
        .where(PracticeSet.user_id == user_id, PracticeSet.activity_id == activity_id))]
    return count_completions(answers, sets)
