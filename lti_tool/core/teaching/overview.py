"""The class overview: one row per learner (the NRPS roster plus anyone who answered) with the
skills they practised, why they may need help and their score in the gradebook, and one
mastery heatmap per activity of the course.

"May need help" has one definition (lti_tool.core.teaching.risk): the list at the top of the
page is the rows whose `risks` are not empty, and the students table shows the same `risks`.

Everything about mastery is read per activity: two activities may practise skills of the same
name from different banks, and each has its own mastery target. A heatmap's columns are its
activity's skills (see CourseData.activity_skills); its rows are the roster plus anyone with
answers or practice sets in that activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.core.teaching.course import (
    ActivityInfo,
    Cell,
    CourseData,
    StudentData,
    by_activity,
    current_mastery,
    load_course,
)
from lti_tool.core.teaching.members import Member
from lti_tool.core.teaching.risk import (
    DEFAULT_RULES,
    RiskRules,
    activity_reasons,
    enough_evidence,
    presence_reasons,
)


@dataclass
class SkillStat:
    name: str
    activity: str = ""  # the title of the activity the answers were given in
    attempts: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0


@dataclass
class StudentRow:
    user_id: int | None  # None: on the roster, never opened Metis
    name: str | None  # None: the LMS shares no name (the pages say so, with `lms_id`)
    skills: list[SkillStat] = field(default_factory=list)
    passbacks: list[dict[str, Any]] = field(default_factory=list)
    lms_id: str = ""
    # activity -> skill -> current mastery, for each heatmap the row is in
    activity_cells: dict[int, dict[int, Cell]] = field(default_factory=dict)
    risks: list[str] = field(default_factory=list)
    last_answer: datetime | None = None
    answers: int = 0
    on_roster: bool = False
    # Activities with answers, but too few to judge mastery: "Practice: 3 of 5 answers".
    too_few: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Heatmap:
    """One activity's mastery table."""

    activity_id: int
    title: str
    threshold: float  # the activity's mastery target
    skills: list[tuple[int, str]]  # columns
    rows: list[StudentRow]
    linked: bool  # the activity of the link the teacher launched from


@dataclass
class Overview:
    rows: list[StudentRow]
    heatmaps: list[Heatmap]  # the launch's activity first, then by creation
    rules: RiskRules = DEFAULT_RULES  # the page states its minimum of answers

    @property
    def at_risk(self) -> list[StudentRow]:
        return [r for r in self.rows if r.risks]

    @property
    def several(self) -> bool:
        """More than one activity: skills and reasons then name their activity."""
        return len(self.heatmaps) > 1

    def heatmap(self, activity_id: int | None = None) -> Heatmap | None:
        """That activity's heatmap (None if the course has no such activity); without an id,
        the first one (the launch's activity when it has one)."""
        if activity_id is None:
            return self.heatmaps[0] if self.heatmaps else None
        return next((h for h in self.heatmaps if h.activity_id == activity_id), None)


def activity_order(activities: dict[int, ActivityInfo], first: int | None) -> list[int]:
    """The launch's activity first (when it is one of this course's), then by creation."""
    return sorted(activities, key=lambda a: (a != first, a))


def _skill_stats(data: CourseData, parts: dict[int, StudentData], order: list[int]
                 ) -> list[SkillStat]:
    out: list[SkillStat] = []
    for activity_id in order:
        part = parts.get(activity_id)
        if part is None:
            continue
        stats: dict[int, SkillStat] = {}
        for a in part.answers:
            for sid in a.skill_ids:
                stat = stats.setdefault(sid, SkillStat(
                    data.skill_names.get(sid, f"skill {sid}"), data.activities[activity_id].title))
                stat.attempts += 1
                stat.correct += int(a.correct)
        out.extend(sorted(stats.values(), key=lambda s: s.name))
    return out


def _row(data: CourseData, user_id: int | None, name: str | None, lms_id: str, on_roster: bool,
         order: list[int], now: datetime, rules: RiskRules) -> StudentRow:
    student = data.student(user_id) if user_id is not None else StudentData()
    parts = by_activity(student)
    last = student.answers[-1].answered_at if student.answers else None
    launched = user_id is not None and user_id in data.launched
    risks = presence_reasons(on_roster=on_roster, launched=launched, last_answer=last, now=now,
                             opened_at=data.first_launch.get(user_id) if user_id else None,
                             rules=rules)
    cells: dict[int, dict[int, Cell]] = {}
    too_few: list[str] = []
    for activity_id in order:
        part = parts.get(activity_id)
        if part is None:
            continue
        cells[activity_id] = current_mastery(data, part)
        reasons = activity_reasons(answers=len(part.answers), cells=cells[activity_id],
                                   history=part.history, skill_names=data.skill_names,
                                   rules=rules)
        # Say which activity when there are several, as the heatmaps do.
        title = f"{data.activities[activity_id].title}: " if len(order) > 1 else ""
        risks.extend(f"{title}{r}" for r in reasons)
        if part.answers and not enough_evidence(len(part.answers), rules):
            too_few.append(f"{title}{len(part.answers)} of {rules.min_answers} answers")
    return StudentRow(user_id, name, _skill_stats(data, parts, order), student.passbacks,
                      lms_id, cells, risks, last, len(student.answers), on_roster, too_few)


def _heatmap(data: CourseData, activity_id: int, rows: list[StudentRow], linked: bool
             ) -> Heatmap:
    info = data.activities[activity_id]
    evidence = {s for r in rows for s in r.activity_cells.get(activity_id, {})}
    # Roster members who have not practised here get a row of empty cells.
    shown = [r for r in rows if r.on_roster or activity_id in r.activity_cells]
    for r in shown:
        r.activity_cells.setdefault(activity_id, {})
    return Heatmap(activity_id, info.title, info.mastery_threshold,
                   [(s, data.skill_names.get(s, f"skill {s}"))
                    for s in data.activity_skills(activity_id, evidence)],
                   shown, linked)


def overview_from(data: CourseData, roster: list[Member] | None, *,
                  first_activity: int | None = None, now: datetime | None = None,
                  rules: RiskRules = DEFAULT_RULES) -> Overview:
    now = now or datetime.now(UTC)
    order = activity_order(data.activities, first_activity)
    by_sub = {u.sub: u for u in data.users.values()}
    rows: list[StudentRow] = []
    seen: set[int] = set()
    for member in roster or []:
        user = by_sub.get(member.user_id)
        if user is not None:
            seen.add(user.id)
        rows.append(_row(data, user.id if user else None,
                         member.name or (user.name if user else None) or None,
                         member.user_id, True, order, now, rules))
    # Without a roster, or for people no longer on it: everyone with answers, sets or scores.
    # Launch-only users are left out here, since teachers and admins launch too.
    for uid in sorted(data.students):
        if uid in seen or uid not in data.users:
            continue
        user = data.users[uid]
        rows.append(_row(data, uid, user.name or None, user.sub, False, order, now, rules))
    return Overview(rows, [_heatmap(data, a, rows, a == first_activity) for a in order], rules)


def overview(session: Session, platform_id: int, context_id: int,
             roster: list[Member] | None = None, *, first_activity: int | None = None,
             now: datetime | None = None) -> Overview:
    """The overview of one course, in a fixed number of queries (see load_course).
    `first_activity`: the activity of the teacher's link, shown first."""
    return overview_from(load_course(session, platform_id, context_id), roster,
                         first_activity=first_activity, now=now)
