"""Everything the teacher pages know about one course (platform + context), read in a fixed
number of queries whatever the class size, and the per-student mastery derived from it.

Mastery of a skill is the model's estimate from the student's latest practice set that covers
the skill (`PracticeSet.feedback["skills"]`); before any set covers it, the proportion of the
student's answers on the skill that were right; without answers, nothing. The teacher pages read
it per activity (only that activity's sets and answers, against its own mastery target), since
two activities may practise skills of the same name from different banks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lti_tool.core.activities import ActivitySettings, from_activity
from lti_tool.core.db.models import (
    Activity,
    Answer,
    Item,
    Launch,
    PracticeSet,
    ScorePassback,
    Skill,
    User,
)

DEFAULT_MASTERY_THRESHOLD = ActivitySettings(title="", bank="").mastery_threshold


@dataclass(frozen=True)
class ActivityInfo:
    id: int
    title: str
    bank_id: int | None
    points: float
    mastery_threshold: float
    skill_ids: tuple[int, ...]  # the teacher's choice; empty = all of the bank


@dataclass(frozen=True)
class AnswerRow:
    user_id: int
    activity_id: int
    item_id: int
    correct: bool
    answered_at: datetime
    skill_ids: tuple[int, ...]


@dataclass(frozen=True)
class MasteryPoint:
    """One skill's estimate after one practice set."""

    set_number: int  # 1-based, counting all of the student's sets in the course
    at: datetime
    mastery: float
    low: float | None
    high: float | None
    activity_id: int


@dataclass(frozen=True)
class Cell:
    """A student's current mastery of one skill, and where it comes from."""

    mastery: float
    from_model: bool  # False: the proportion of right answers (no practice set yet)
    attempts: int
    correct: int
    threshold: float
    low: float | None = None
    high: float | None = None

    @property
    def below(self) -> bool:
        return self.mastery < self.threshold


@dataclass
class StudentData:
    """One student's evidence in the course."""

    answers: list[AnswerRow] = field(default_factory=list)
    history: dict[int, list[MasteryPoint]] = field(default_factory=dict)  # skill -> points
    sets: int = 0
    passbacks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CourseData:
    activities: dict[int, ActivityInfo]
    skill_names: dict[int, str]
    users: dict[int, User]
    launched: set[int]  # users who opened something in this course
    students: dict[int, StudentData]
    skill_banks: dict[int, int] = field(default_factory=dict)  # skill -> its bank, if it exists
    first_launch: dict[int, datetime] = field(default_factory=dict)  # user -> first opened

    def student(self, user_id: int) -> StudentData:
        return self.students.get(user_id) or StudentData()

    def by_name(self, skills: Iterable[int]) -> list[int]:
        return sorted(set(skills), key=lambda s: (self.skill_names.get(s, "").lower(), s))

    def activity_skills(self, activity_id: int, evidence: Iterable[int] = ()) -> list[int]:
        """The columns of one activity's heatmap: the skills of its bank (those the teacher
        chose, when they chose some) and `evidence`, the skills with answers or estimates in
        this activity, so that nothing is hidden (an item also tagged with a skill the teacher
        left out, a skill deleted since)."""
        info = self.activities[activity_id]
        chosen = {s for s, bank in self.skill_banks.items()
                  if info.bank_id is not None and bank == info.bank_id
                  and (not info.skill_ids or s in info.skill_ids)}
        return self.by_name(chosen | set(evidence))

    def threshold(self, activity_id: int | None) -> float:
        info = self.activities.get(activity_id) if activity_id is not None else None
        if info is not None:
            return info.mastery_threshold
        # Evidence from several activities: the strictest bar, so nobody is called "fine" early.
        return max((a.mastery_threshold for a in self.activities.values()),
                   default=DEFAULT_MASTERY_THRESHOLD)


def _int_list(raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[int] = []
    for v in raw:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def _info(activity: Activity) -> ActivityInfo:
    settings = from_activity(activity)
    return ActivityInfo(activity.id, activity.title, activity.bank_id, activity.points,
                        settings.mastery_threshold, settings.skills)


def load_activities(session: Session, platform_id: int, context_id: int
                    ) -> dict[int, ActivityInfo]:
    return {
        a.id: _info(a)
        for a in session.scalars(select(Activity).where(
            Activity.platform_id == platform_id, Activity.context_id == context_id
        ).order_by(Activity.id))
    }


def answer_row(answer: Answer, item: Item) -> AnswerRow:
    return AnswerRow(answer.user_id, answer.activity_id, answer.item_id, bool(answer.correct),
                     answer.answered_at, _int_list(item.skill_ids))


def load_answers(session: Session, activity_ids: Iterable[int]) -> list[AnswerRow]:
    query = (select(Answer.user_id, Answer.activity_id, Answer.item_id, Answer.correct,
                    Answer.answered_at, Item.skill_ids)
             .join(Item, Item.id == Answer.item_id)
             .where(Answer.activity_id.in_(list(activity_ids)))
             .order_by(Answer.answered_at, Answer.id))
    return [AnswerRow(u, a, i, bool(c), t, _int_list(sk))
            for u, a, i, c, t, sk in session.execute(query)]


def mastery_history(rows: Iterable[tuple[int, int, datetime, dict[str, Any]]]
                    ) -> dict[int, tuple[int, dict[int, list[MasteryPoint]]]]:
    """Per user: (number of sets, skill -> estimates in set order) from (user, activity,
    created_at, feedback) rows given in set order. Malformed entries are skipped."""
    out: dict[int, tuple[int, dict[int, list[MasteryPoint]]]] = {}
    for user_id, activity_id, at, fb in rows:
        n, hist = out.get(user_id, (0, {}))
        n += 1
        entries = fb.get("skills") if isinstance(fb, dict) else None
        for e in entries if isinstance(entries, list) else []:
            try:
                skill, m = int(e["skill"]), float(e["mastery"])
            except (KeyError, TypeError, ValueError):
                continue
            low, high = e.get("low"), e.get("high")
            hist.setdefault(skill, []).append(MasteryPoint(
                n, at, m, float(low) if isinstance(low, int | float) else None,
                float(high) if isinstance(high, int | float) else None, activity_id))
        out[user_id] = (n, hist)
    return out


def load_sets(session: Session, activity_ids: Iterable[int], user_id: int | None = None
              ) -> dict[int, tuple[int, dict[int, list[MasteryPoint]]]]:
    query = (select(PracticeSet.user_id, PracticeSet.activity_id, PracticeSet.created_at,
                    PracticeSet.feedback)
             .where(PracticeSet.activity_id.in_(list(activity_ids)))
             .order_by(PracticeSet.id))
    if user_id is not None:
        query = query.where(PracticeSet.user_id == user_id)
    return mastery_history((u, a, t, fb) for u, a, t, fb in session.execute(query))


def load_passbacks(session: Session, activities: dict[int, ActivityInfo],
                   user_id: int | None = None) -> dict[int, list[dict[str, Any]]]:
    query = (select(ScorePassback).where(ScorePassback.activity_id.in_(list(activities)))
             .order_by(ScorePassback.activity_id))
    if user_id is not None:
        query = query.where(ScorePassback.user_id == user_id)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pb in session.scalars(query):
        out[pb.user_id].append({
            "id": pb.id, "activity_id": pb.activity_id,
            "activity": activities[pb.activity_id].title,
            "score": pb.score_given, "maximum": pb.score_maximum, "status": str(pb.status),
            "error": pb.last_error or "", "attempts": pb.attempts,
            # What the LMS's own result said when last read back, and when.
            "lms_score": pb.lms_score, "checked_at": pb.checked_at,
        })
    return out


def load_skills(session: Session, activities: dict[int, ActivityInfo],
                seen: set[int]) -> dict[int, tuple[str, int]]:
    """skill -> (name, bank) for the skills with evidence and the skills the activities
    practise (all of a bank's unless the teacher picked some)."""
    banks = {a.bank_id for a in activities.values() if a.bank_id is not None}
    if not banks and not seen:
        return {}
    rows = session.execute(select(Skill.id, Skill.name, Skill.bank_id).where(
        or_(Skill.bank_id.in_(banks), Skill.id.in_(seen))))
    out: dict[int, tuple[str, int]] = {}
    for sid, name, bank_id in rows:
        practised = any(a.bank_id == bank_id and (not a.skill_ids or sid in a.skill_ids)
                        for a in activities.values())
        if practised or sid in seen:
            out[sid] = (name, bank_id)
    return out


def load_skill_names(session: Session, activities: dict[int, ActivityInfo],
                     seen: set[int]) -> dict[int, str]:
    """Names of the skills with evidence and of the skills the activities practise."""
    return {sid: name for sid, (name, _) in load_skills(session, activities, seen).items()}


def load_course(session: Session, platform_id: int, context_id: int) -> CourseData:
    """Seven queries, however many students, answers and sets the course has."""
    activities = load_activities(session, platform_id, context_id)
    answers = load_answers(session, activities)
    sets = load_sets(session, activities)
    passbacks = load_passbacks(session, activities)
    first_launch: dict[int, datetime] = {u: at for u, at in session.execute(
        select(Launch.user_id, func.min(Launch.created_at)).where(
            Launch.platform_id == platform_id, Launch.context_id == context_id,
            Launch.user_id.is_not(None)).group_by(Launch.user_id)) if u is not None}
    launched = set(first_launch)
    students: dict[int, StudentData] = defaultdict(StudentData)
    for a in answers:
        students[a.user_id].answers.append(a)
    for uid, (n, hist) in sets.items():
        students[uid].sets, students[uid].history = n, hist
    for uid, pbs in passbacks.items():
        students[uid].passbacks = pbs
    ids = set(students) | launched
    users = {u.id: u for u in session.scalars(
        select(User).where(User.platform_id == platform_id, User.id.in_(ids)))} if ids else {}
    seen = {s for a in answers for s in a.skill_ids} | {
        s for st in students.values() for s in st.history}
    known = load_skills(session, activities, seen)
    names = {sid: name for sid, (name, _) in known.items()}
    for s in seen - set(names):
        names[s] = f"skill {s}"  # deleted since: keep the evidence visible
    return CourseData(activities, names, users, launched, dict(students),
                      {sid: bank for sid, (_, bank) in known.items()}, first_launch)


def by_activity(student: StudentData) -> dict[int, StudentData]:
    """A student's evidence split by activity, in one pass (answers and sets keep their order;
    set numbers keep counting the student's sets in the whole course)."""
    out: dict[int, StudentData] = defaultdict(StudentData)
    for a in student.answers:
        out[a.activity_id].answers.append(a)
    for skill, points in student.history.items():
        for p in points:
            out[p.activity_id].history.setdefault(skill, []).append(p)
    for pb in student.passbacks:
        out[int(pb["activity_id"])].passbacks.append(pb)
    for part in out.values():
        part.sets = len({p.set_number for points in part.history.values() for p in points})
    return dict(out)


def current_mastery(data: CourseData, student: StudentData) -> dict[int, Cell]:
    """skill -> the student's current mastery (see the module docstring). Pass one part of
    `by_activity` for that activity's numbers."""
    tally: dict[int, list[int]] = {}
    last_activity: dict[int, int] = {}
    for a in student.answers:
        for s in a.skill_ids:
            t = tally.setdefault(s, [0, 0])
            t[0] += 1
            t[1] += int(a.correct)
            last_activity[s] = a.activity_id
    cells: dict[int, Cell] = {}
    for skill in set(tally) | set(student.history):
        attempts, correct = tally.get(skill, (0, 0))
        points = student.history.get(skill)
        if points:
            p = points[-1]
            cells[skill] = Cell(p.mastery, True, attempts, correct,
                                data.threshold(p.activity_id), p.low, p.high)
        elif attempts:
            cells[skill] = Cell(correct / attempts, False, attempts, correct,
                                data.threshold(last_activity.get(skill)))
    return cells
