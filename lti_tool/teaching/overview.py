"""The class overview: one row per learner (the NRPS roster plus anyone who answered) with the
skills they struggle with, their mastery per skill (the heatmap), why they may be at risk, and
their score in the gradebook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.lms.nrps import Member
from lti_tool.teaching.course import Cell, CourseData, StudentData, current_mastery, load_course
from lti_tool.teaching.risk import DEFAULT_RULES, RiskRules, risk_reasons

STRUGGLE_BELOW = 0.5
MIN_ATTEMPTS = 3


@dataclass
class SkillStat:
    name: str
    attempts: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0

    @property
    def struggling(self) -> bool:
        return self.attempts >= MIN_ATTEMPTS and self.accuracy < STRUGGLE_BELOW


@dataclass
class StudentRow:
    user_id: int | None  # None: on the roster, never opened Metis
    name: str
    skills: list[SkillStat] = field(default_factory=list)
    passbacks: list[dict[str, Any]] = field(default_factory=list)
    lms_id: str = ""
    cells: dict[int, Cell] = field(default_factory=dict)
    risks: list[str] = field(default_factory=list)
    last_answer: datetime | None = None
    answers: int = 0

    @property
    def struggles(self) -> list[SkillStat]:
        return [s for s in self.skills if s.struggling]


@dataclass
class Overview:
    rows: list[StudentRow]
    skills: list[tuple[int, str]]  # heatmap columns

    @property
    def at_risk(self) -> list[StudentRow]:
        return [r for r in self.rows if r.risks]


def _skill_stats(data: CourseData, student: StudentData) -> list[SkillStat]:
    stats: dict[int, SkillStat] = {}
    for a in student.answers:
        for sid in a.skill_ids:
            stat = stats.setdefault(sid, SkillStat(data.skill_names.get(sid, f"skill {sid}")))
            stat.attempts += 1
            stat.correct += int(a.correct)
    return sorted(stats.values(), key=lambda s: s.name)


def _row(data: CourseData, user_id: int | None, name: str, lms_id: str, on_roster: bool,
         now: datetime, rules: RiskRules) -> StudentRow:
    student = data.student(user_id) if user_id is not None else StudentData()
    cells = current_mastery(data, student)
    last = student.answers[-1].answered_at if student.answers else None
    launched = user_id is not None and user_id in data.launched
    return StudentRow(
        user_id, name, _skill_stats(data, student), student.passbacks, lms_id, cells,
        risk_reasons(on_roster=on_roster, launched=launched, last_answer=last, cells=cells,
                     history=student.history, skill_names=data.skill_names, now=now,
                     rules=rules),
        last, len(student.answers))


def overview_from(data: CourseData, roster: list[Member] | None, *,
                  now: datetime | None = None, rules: RiskRules = DEFAULT_RULES) -> Overview:
    now = now or datetime.now(UTC)
    by_sub = {u.sub: u for u in data.users.values()}
    rows: list[StudentRow] = []
    seen: set[int] = set()
    for member in roster or []:
        user = by_sub.get(member.user_id)
        if user is not None:
            seen.add(user.id)
        rows.append(_row(data, user.id if user else None,
                         member.name or (user.name if user else None) or member.user_id
                         or "unknown", member.user_id, True, now, rules))
    # Without a roster, or for people no longer on it: everyone with answers, sets or scores.
    # Launch-only users are left out here, since teachers and admins launch too.
    for uid in sorted(data.students):
        if uid in seen or uid not in data.users:
            continue
        user = data.users[uid]
        rows.append(_row(data, uid, user.name or user.sub, user.sub, False, now, rules))
    return Overview(rows, [(s, data.skill_names[s]) for s in data.skills])


def overview(session: Session, platform_id: int, context_id: int,
             roster: list[Member] | None = None, *, now: datetime | None = None) -> Overview:
    """The overview of one course, in a fixed number of queries (see load_course)."""
    return overview_from(load_course(session, platform_id, context_id), roster, now=now)
