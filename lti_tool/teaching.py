"""What the teacher page shows: per student, the skills they struggle with and the state of
their score in the gradebook. Plain queries scoped to one platform + context."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db import Database
from lti_tool.db.models import Activity, Answer, Context, Item, ScorePassback, Skill, User
from lti_tool.lms.nrps import Member, fetch_roster
from lti_tool.lms.services import service_context
from lti_tool.settings import Settings

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
    user_id: int | None
    name: str
    skills: list[SkillStat] = field(default_factory=list)
    passbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def struggles(self) -> list[SkillStat]:
        return [s for s in self.skills if s.struggling]


def is_learner(member: Member) -> bool:
    # NRPS roles come as short names ("Learner") from Moodle and as full URIs elsewhere.
    return member.status.lower() != "deleted" and any(
        r == "Learner" or r.endswith("#Learner") for r in member.roles)


def course_learners(db: Database, client: redis.Redis, settings: Settings, platform_id: int,
                    context_id: int) -> list[Member] | None:
    """The course's learners from NRPS, or None when the LMS offered no roster service.
    Service errors (lti_tool.lms ServiceError) are left to the caller."""
    with db.session() as s:
        ctx = s.get(Context, context_id)
        url = ctx.memberships_url if ctx is not None and ctx.platform_id == platform_id else None
    if not url:
        return None
    ctx_services = service_context(db, client, settings, platform_id)
    return [m for m in fetch_roster(ctx_services, url) if is_learner(m)]


def overview(session: Session, platform_id: int, context_id: int,
             roster: list[Member] | None = None) -> list[StudentRow]:
    """One row per learner: those on the NRPS roster (when given) plus any who answered."""
    activities = {a.id: a for a in session.scalars(
        select(Activity).where(Activity.platform_id == platform_id,
                               Activity.context_id == context_id))}
    stats: dict[int, dict[int, SkillStat]] = defaultdict(dict)
    skill_names = {s.id: s.name for s in session.scalars(select(Skill))}
    for user_id, correct, skill_ids in session.execute(
        select(Answer.user_id, Answer.correct, Item.skill_ids)
        .join(Item, Item.id == Answer.item_id)
        .where(Answer.activity_id.in_(list(activities)))
    ):
        for sid in skill_ids or []:
            stat = stats[user_id].setdefault(int(sid), SkillStat(skill_names.get(int(sid), "?")))
            stat.attempts += 1
            stat.correct += int(bool(correct))
    passbacks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pb in session.scalars(
        select(ScorePassback).where(ScorePassback.activity_id.in_(list(activities)))
    ):
        passbacks[pb.user_id].append({
            "id": pb.id, "activity": activities[pb.activity_id].title,
            "score": pb.score_given, "maximum": pb.score_maximum, "status": str(pb.status),
            "error": pb.last_error or "", "attempts": pb.attempts,
        })
    users = {u.id: u for u in session.scalars(
        select(User).where(User.platform_id == platform_id,
                           User.id.in_(set(stats) | set(passbacks))))}
    by_sub = {u.sub: u for u in users.values()}
    rows: list[StudentRow] = []
    seen: set[int] = set()
    for member in roster or []:
        user = by_sub.get(member.user_id)
        name = member.name or member.user_id or "unknown"
        if user is not None:
            seen.add(user.id)
        uid = user.id if user else None
        rows.append(StudentRow(uid, name, sorted(stats.get(uid or -1, {}).values(),
                                                 key=lambda s: s.name),
                               passbacks.get(uid or -1, [])))
    for uid, user in sorted(users.items()):
        if uid not in seen:
            rows.append(StudentRow(uid, user.name or user.sub,
                                   sorted(stats.get(uid, {}).values(), key=lambda s: s.name),
                                   passbacks.get(uid, [])))
    return rows
