"""Turn a validated launch into rows: context, user, resource link and the Launch itself.

The claims arrive typed (lti_tool.lti.claims_schema), so nothing here second-guesses a type.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Activity, Context, Launch, ResourceLink, User
from lti_tool.lti.claims_schema import AgsClaim, LaunchClaims
from lti_tool.lti.roles import Role, role_from_claims

ROLE_NAMES = {Role.learner: "learner", Role.instructor: "instructor", Role.admin: "admin"}
NAME_ROLES = {v: k for k, v in ROLE_NAMES.items()}


def _upsert_user(s: Session, platform_id: int, claims: LaunchClaims) -> User:
    sub = str(claims.sub)
    user = s.scalar(select(User).where(User.platform_id == platform_id, User.sub == sub))
    if user is None:
        user = User(platform_id=platform_id, sub=sub)
        s.add(user)
    # Only what the platform shares now is kept: a claim it stopped sending (a privacy setting
    # changed in the LMS) clears what an earlier launch stored.
    profile = {
        "name": claims.name,
        "given_name": claims.given_name,
        "family_name": claims.family_name,
        "email": claims.email,
    }
    for field, value in profile.items():
        setattr(user, field, value[:255] if value else None)
    return user


def _upsert_context(
    s: Session, platform_id: int, deployment_pk: int, claims: LaunchClaims
) -> Context | None:
    ctx = claims.context
    if ctx is None:
        return None
    row = s.scalar(
        select(Context).where(Context.platform_id == platform_id, Context.context_id == ctx.id)
    )
    if row is None:
        row = Context(platform_id=platform_id, context_id=ctx.id)
        s.add(row)
    row.deployment_id = deployment_pk
    row.label = (ctx.label or row.label or "")[:255]
    row.title = (ctx.title or row.title or "")[:500]
    if claims.nrps and claims.nrps.context_memberships_url:
        row.memberships_url = claims.nrps.context_memberships_url
    return row


def _activity_for(
    s: Session, platform_id: int, context: Context, claims: LaunchClaims
) -> int | None:
    raw = (claims.custom or {}).get("activity_id")
    if raw is None or isinstance(raw, bool) or not str(raw).isdigit():
        return None
    activity = s.get(Activity, int(raw))
    # A copied link that points at another course's or platform's activity is ignored.
    if activity is None or activity.platform_id != platform_id or activity.context_id != context.id:
        return None
    return activity.id


def _upsert_resource_link(
    s: Session, platform_id: int, deployment_pk: int, context: Context, claims: LaunchClaims
) -> ResourceLink | None:
    """The link of this (platform, deployment, course): a launch that names another course's
    link id gets its own row, never the other course's activity or gradebook column."""
    link = claims.resource_link
    if link is None or not link.id:
        return None
    row = s.scalar(
        select(ResourceLink).where(
            ResourceLink.platform_id == platform_id,
            ResourceLink.deployment_id == deployment_pk,
            ResourceLink.context_id == context.id,
            ResourceLink.resource_link_id == link.id,
        )
    )
    if row is None:
        row = ResourceLink(
            platform_id=platform_id,
            deployment_id=deployment_pk,
            context_id=context.id,
            resource_link_id=link.id,
        )
        s.add(row)
    row.title = (link.title or row.title or "")[:500]
    activity_id = _activity_for(s, platform_id, context, claims)
    if activity_id is not None:
        row.activity_id = activity_id
    # A launch without the AGS claim (the service was turned off) clears what an earlier one left.
    ags = claims.ags or AgsClaim()
    row.lineitem_url = ags.lineitem or None
    row.lineitems_url = ags.lineitems or None
    row.ags_scopes = list(ags.scope or [])
    return row


def record_launch(
    s: Session, *, launch_id: str, platform_id: int, deployment_pk: int, claims: LaunchClaims
) -> Launch:
    user = _upsert_user(s, platform_id, claims)
    context = _upsert_context(s, platform_id, deployment_pk, claims)
    s.flush()
    link = (
        _upsert_resource_link(s, platform_id, deployment_pk, context, claims) if context else None
    )
    s.flush()
    roles = list(claims.roles or [])
    launch = Launch(
        launch_id=launch_id,
        platform_id=platform_id,
        deployment_id=deployment_pk,
        user_id=user.id,
        context_id=context.id if context else None,
        resource_link_id=link.id if link else None,
        message_type=str(claims.message_type),
        role=ROLE_NAMES[role_from_claims(roles)],
        roles=roles,
    )
    s.add(launch)
    s.flush()
    return launch
