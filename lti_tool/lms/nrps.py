"""Names and Role Provisioning Services: the course roster, following `Link: rel="next"`."""

from __future__ import annotations

from typing import Any

from lti_tool.core.teaching.members import Member
from lti_tool.lms.calls import authorised
from lti_tool.lms.services import ServiceContext
from lti_tool.lms.tokens import PermanentServiceError, error_for_status
from lti_tool.lti import claims as C

MEMBERSHIP_ACCEPT = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 200


def fetch_roster(ctx: ServiceContext, memberships_url: str) -> list[Member]:
    members: list[Member] = []
    url: str | None = memberships_url
    pages = 0
    while url:
        pages += 1
        if pages > MAX_PAGES:
            raise PermanentServiceError(f"roster has more than {MAX_PAGES} pages")
        reply = authorised(ctx, "GET", url, [C.SCOPE_NRPS], headers={"Accept": MEMBERSHIP_ACCEPT})
        if reply.status != 200:
            raise error_for_status(reply.status, "roster refused")
        body = reply.json()
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise PermanentServiceError("roster page is not a membership container")
        members.extend(_member(m) for m in body["members"] if isinstance(m, dict))
        nxt = reply.links.get("next", {})
        url = nxt.get("url") if isinstance(nxt, dict) else None
    return members


def _member(raw: dict[str, Any]) -> Member:
    return Member(
        user_id=str(raw.get("user_id", "")),
        roles=tuple(str(r) for r in raw.get("roles") or []),
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
        email=raw.get("email") if isinstance(raw.get("email"), str) else None,
        status=str(raw.get("status", "Active")),
    )
