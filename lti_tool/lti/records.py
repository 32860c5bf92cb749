"""Turn a validated launch into rows: context, user, resource link and the Launch itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Activity, Context, Launch, ResourceLink, User
from lti_tool.lti import claims as C
from lti_tool.lti.roles import Role, role_from_claims

ROLE_NAMES = {Role.learner: "learner", Role.instructor: "instructor", Role.admin: "admin"}
NAME_ROLES = {v: k for k, v in ROLE_NAMES.items()}
_PROFILE = ("name", "given_name", "family_name", "email")


def _upsert_user(s: Session, platform_id: int, claims: dict[str, Any]) -> User:
    sub = str(claims["sub"])
    user = s.scalar(select(User).where(User.platform_id == platform_id, User.sub == sub))
    if user is None:
        user = User(platform_id=platform_id, sub=sub)
        s.add(user)
    # Only what the platform shares now is kept: a claim it stopped sending (a privacy setting
    # changed in the LMS) clears what an earlier launch stored.
    for field in _PROFILE:
        value = claims.get(field)
        setattr(user, field, value[:255] if isinstance(value, str) and value else None)
    return user


def _upsert_context(
    s: Session, platform_id: int, deployment_pk: int, claims: dict[str, Any]
) -> Context | None:
    ctx = claims.get(C.CONTEXT) or {}
    if not isinstance(ctx, dict) or not ctx.get("id"):
        return None
    row = s.scalar(
        select(Context).where(
            Context.platform_id == platform_id, Context.context_id == str(ctx["id"])
        )
    )
    if row is None:
        row = Context(platform_id=platform_id, context_id=str(ctx["id"]))
        s.add(row)
    row.deployment_id = deployment_pk
    row.label = str(ctx.get("label") or row.label or "")[:255]
    row.title = str(ctx.get("title") or row.title or "")[:500]
    nrps = claims.get(C.NRPS) or {}
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        row.memberships_url = str(nrps["context_memberships_url"])
    return row


def _activity_for(
    s: Session, platform_id: int, context: Context, claims: dict[str, Any]
) -> int | None:
    custom = claims.get(C.CUSTOM) or {}
    raw = custom.get("activity_id") if isinstance(custom, dict) else None
    if raw is None or not str(raw).isdigit():
        return None
    activity = s.get(Activity, int(raw))
    # A copied link that points at another course's or platform's activity is ignored.
    if activity is None or activity.platform_id != platform_id or activity.context_id != context.id:
        return None
    return activity.id


def _upsert_resource_link(
    s: Session, platform_id: int, context: Context, claims: dict[str, Any]
) -> ResourceLink | None:
    link = claims.get(C.RESOURCE_LINK) or {}
    if not isinstance(link, dict) or not link.get("id"):
        return None
    row = s.scalar(
        select(ResourceLink).where(
            ResourceLink.platform_id == platform_id,
            ResourceLink.resource_link_id == str(link["id"]),
        )
    )
    if row is None:
        row = ResourceLink(
            platform_id=platform_id, context_id=context.id, resource_link_id=str(link["id"])
        )
        s.add(row)
    row.title = str(link.get("title") or row.title or "")[:500]
    activity_id = _activity_for(s, platform_id, context, claims)
    if activity_id is not None:
        row.activity_id = activity_id
    ags = claims.get(C.AGS) or {}
    if isinstance(ags, dict):
        row.lineitem_url = ags.get("lineitem") or None
        row.lineitems_url = ags.get("lineitems") or None
        row.ags_scopes = [str(x) for x in ags.get("scope") or []]
    return row


def record_launch(
    s: Session, *, launch_id: str, platform_id: int, deployment_pk: int, claims: dict[str, Any]
) -> Launch:
    user = _upsert_user(s, platform_id, claims)
    context = _upsert_context(s, platform_id, deployment_pk, claims)
    s.flush()
    link = _upsert_resource_link(s, platform_id, context, claims) if context else None
    s.flush()
    roles = [str(r) for r in claims.get(C.ROLES) or []]
    launch = Launch(
        launch_id=launch_id,
        platform_id=platform_id,
        deployment_id=deployment_pk,
        user_id=user.id,
        context_id=context.id if context else None,
        resource_link_id=link.id if link else None,
        message_type=str(claims[C.MESSAGE_TYPE]),
        role=ROLE_NAMES[role_from_claims(roles)],
        roles=roles,
    )
    s.add(launch)
    s.flush()
    return launch
