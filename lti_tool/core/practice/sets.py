"""A set is a set: which practice set a student is on, and which of its questions they answered.

A set is planned once (a `PracticeSet` row) and kept until every one of its questions has been
answered; only then is the next one planned. The set's start is the answer that finished the
previous set (`PracticeSet.event_id`; NULL for a student's first set, which starts before any
answer). Its questions count as answered by the student's answers after that start: answers
are in the database the moment they are graded, so the page and the workers agree at once,
whatever the workers' delay, and a late worker can never re-open an answered question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Answer, PracticeSet


@dataclass(frozen=True)
class SetProgress:
    """One set as the student stands in it."""

    row: PracticeSet
    started_after: int  # answer id the set was planned after (0: before any answer)
    item_ids: tuple[int, ...]
    answered: dict[int, Answer]  # item id -> the answer that closed it in this set
    tried: dict[int, list[Answer]] = field(default_factory=dict)  # every try, closed or not

    def tries_used(self, item_id: int) -> int:
        return len(self.tried.get(item_id, []))

    @property
    def finished(self) -> bool:
        return all(i in self.answered for i in self.item_ids)

    @property
    def position(self) -> int:
        """Which question the student is at, 1-based ("question k of n")."""
        return min(len(self.answered) + 1, len(self.item_ids))


def unstored_first_set(user_id: int, activity_id: int, item_ids: list[int]) -> PracticeSet:
    """A student's first set as the page shows it before the workers store it (only read,
    never added to a session)."""
    return PracticeSet(user_id=user_id, activity_id=activity_id, event_id=None,
                       items=[{"item_id": i} for i in item_ids])


# Where `set_at` leaves, per session, the answer each set it found starts after (its query
# joins that answer anyway): a set's start never changes, so the session may keep it.
_STARTS = "metis.set_starts"


def started_after(session: Session, row: PracticeSet) -> int:
    """The id of the answer that finished the set before `row` (0: the student's first)."""
    if row.event_id is None:
        return 0
    known = session.info.get(_STARTS, {}).get(row.id)
    if known is not None:
        return int(known)
    return int(session.scalar(select(Answer.id).where(Answer.event_id == row.event_id)) or 0)


def set_at(session: Session, user_id: int, activity_id: int,
           upto_answer_id: int | None = None) -> PracticeSet | None:
    """The set the student was on when they gave answer `upto_answer_id` (None: now): the
    newest set planned before it."""
    query = (
        select(PracticeSet, Answer.id)
        .outerjoin(Answer, Answer.event_id == PracticeSet.event_id)
        .where(PracticeSet.user_id == user_id, PracticeSet.activity_id == activity_id)
    )
    if upto_answer_id is not None:
        query = query.where((Answer.id < upto_answer_id) | PracticeSet.event_id.is_(None))
    found = session.execute(
        query.order_by(Answer.id.desc().nulls_last(), PracticeSet.id.desc()).limit(1)
    ).first()
    if found is None:
        return None
    row, start = found
    session.info.setdefault(_STARTS, {})[row.id] = int(start or 0)
    return row


def closes(answer: Answer, tries_before: int, tries: int) -> bool:
    """Whether this try closes its question: right, or the last try allowed."""
    return float(answer.credit) >= 1.0 or tries_before + 1 >= tries


def progress_in(session: Session, row: PracticeSet, valid_items: set[int] | None = None,
                upto_answer_id: int | None = None, tries: int = 1) -> SetProgress:
    """`row` with the student's answers to its questions after its start (up to and
    including `upto_answer_id`). `valid_items`: the questions that still exist (a question
    the teacher deleted since cannot hold the set open). `tries`: per question."""
    start = started_after(session, row)
    ids = tuple(int(e["item_id"]) for e in row.items or [] if "item_id" in e)
    if valid_items is not None:
        ids = tuple(i for i in ids if i in valid_items)
    query = select(Answer).where(
        Answer.user_id == row.user_id, Answer.activity_id == row.activity_id,
        Answer.id > start, Answer.item_id.in_(ids) if ids else Answer.id < 0,
    )
    if upto_answer_id is not None:
        query = query.where(Answer.id <= upto_answer_id)
    answered: dict[int, Answer] = {}
    tried: dict[int, list[Answer]] = {}
    for answer in session.scalars(query.order_by(Answer.id)):
        if answer.item_id in answered:
            continue  # closed: nothing after counts (none is accepted, but old data may hold it)
        before = tried.setdefault(answer.item_id, [])
        if closes(answer, len(before), tries):
            answered[answer.item_id] = answer
        before.append(answer)
    return SetProgress(row, start, ids, answered, tried)


@dataclass(frozen=True)
class TryState:
    closed: bool  # answered in this set: no further try is graded
    used: int  # tries so far in this set
    in_set: bool  # a question of the set (a stand-in outside it gets one try)


def try_state(session: Session, user_id: int, activity_id: int, item_id: int,
              tries: int = 1) -> TryState:
    """Where `item_id` stands in the set the student is on. Each question of a set is graded
    once (a double submit, a stale page or a replayed form cannot grade it again). Before
    their first set is stored, every answer in the activity belongs to that first set."""
    row = set_at(session, user_id, activity_id)
    in_set = row is None or item_id in {int(e["item_id"]) for e in row.items or []
                                        if "item_id" in e}
    if row is None:
        row = unstored_first_set(user_id, activity_id, [item_id])
    where = progress_in(session, row, tries=tries)
    return TryState(item_id in where.answered, where.tries_used(item_id), in_set)
