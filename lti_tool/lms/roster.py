"""The course's learners from the LMS (NRPS), cached briefly in Redis so that each teacher page
view does not call the LMS, and never fatal: a failing LMS gives a notice, not an error page."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis

from lti_tool.core import redis_keys
from lti_tool.core.db import Database
from lti_tool.core.db.models import Context
from lti_tool.core.teaching.members import Member
from lti_tool.lms.nrps import fetch_roster
from lti_tool.lms.services import service_context
from lti_tool.lms.tokens import ServiceError
from lti_tool.settings import Settings

log = logging.getLogger("metis.teacher")

ROSTER_KEY = redis_keys.ROSTER
ROSTER_TTL_S = 60
# A failing LMS is asked again after this long, not on every page view (it may be timing out).
FAILURE_TTL_S = 15


@dataclass(frozen=True)
class Roster:
    """`members` is None when there is no roster; `failed` says whether the LMS was asked and
    did not answer (rather than offering no roster service at all)."""

    members: list[Member] | None
    failed: bool = False

    @property
    def known(self) -> bool:
        return self.members is not None


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


def _encode(roster: Roster) -> str:
    if roster.members is None:
        return json.dumps({"failed": roster.failed, "members": None})
    return json.dumps({"failed": False, "members": [
        {"user_id": m.user_id, "roles": list(m.roles), "name": m.name, "email": m.email,
         "status": m.status} for m in roster.members]})


def _decode(raw: bytes | str) -> Roster | None:
    try:
        data = json.loads(raw)
        members = data["members"]
        if members is None:
            return Roster(None, bool(data["failed"]))
        return Roster([Member(str(m["user_id"]), tuple(m["roles"]), m["name"], m["email"],
                              str(m["status"])) for m in members])
    except (ValueError, KeyError, TypeError):
        return None  # unreadable cache entry: ask the LMS again


def cached_roster(db: Database, client: redis.Redis, settings: Settings, platform_id: int,
                  context_id: int) -> Roster:
    """The learners, from Redis when asked within the last minute, else from the LMS.

    Keyed per platform and context so that two platforms reusing a context id never share a
    roster. Redis being down only costs the cache: the LMS is asked directly.
    """
    key = ROSTER_KEY.format(platform=platform_id, context=context_id)
    try:
        raw = client.get(key)
    except redis.RedisError:
        raw = None
    if raw is not None:
        hit = _decode(raw)
        if hit is not None:
            return hit
    try:
        roster = Roster(course_learners(db, client, settings, platform_id, context_id))
        ttl = ROSTER_TTL_S
    except (ServiceError, LookupError) as exc:  # the page still shows who answered
        log.warning("roster unavailable for context %s: %s", context_id, exc)
        roster, ttl = Roster(None, failed=True), FAILURE_TTL_S
    try:
        client.set(key, _encode(roster), ex=ttl)
    except redis.RedisError:
        pass
    return roster
