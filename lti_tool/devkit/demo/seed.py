"""The demo's data: the demo LMS registered and approved, one course with one practice activity
on the generated demo bank (lti_tool.core.itembank.demo_bank)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import (
    Activity,
    Context,
    Deployment,
    Platform,
    PlatformStatus,
    Skill,
)
from lti_tool.core.itembank.demo_bank import ensure_demo_bank

COURSE_ID = "course-101"
COURSE_TITLE = "Arithmetic 101"
ACTIVITY_TITLE = "Fractions, decimals and percentages"
POINTS = 10.0

# The demo activity practises these skills of the generated demo bank.
ACTIVITY_SKILLS = ("fraction addition", "fraction simplifying", "decimals", "percentages")


@dataclass(frozen=True)
class DemoCourse:
    platform_id: int
    activity_id: int
    points: float


def register_demo_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    name: str = "Metis demo LMS",
) -> tuple[Platform, Deployment]:
    """Register (once) the demo LMS at `issuer` as an approved platform with an active
    deployment. Idempotent by issuer + client ID. The demo, `metis bench launch` and the tests'
    LTI world all use it."""
    platform = session.scalar(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    if platform is None:
        platform = Platform(issuer=issuer, client_id=client_id, registered_via="demo")
        session.add(platform)
    platform.name = name
    platform.auth_login_url = f"{issuer}/auth"
    platform.auth_token_url = f"{issuer}/token"
    platform.key_set_url = f"{issuer}/jwks"
    platform.status = PlatformStatus.active
    platform.product_family_code = "metis-demo"
    session.flush()

    deployment = session.scalar(
        select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
        )
    )
    if deployment is None:
        deployment = Deployment(platform_id=platform.id, deployment_id=deployment_id)
        session.add(deployment)
    deployment.active = True
    session.flush()
    return platform, deployment


def seed_demo(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
) -> DemoCourse:
    """Create (once) and approve the demo LMS's registration, its course and practice activity.

    Idempotent by issuer + client ID, so restarting the demo keeps students' history.
    """
    platform, deployment = register_demo_platform(
        session, issuer=issuer, client_id=client_id, deployment_id=deployment_id
    )

    context = session.scalar(
        select(Context).where(Context.platform_id == platform.id, Context.context_id == COURSE_ID)
    )
    if context is None:
        context = Context(platform_id=platform.id, context_id=COURSE_ID, label="ARITH101")
        session.add(context)
    context.title = COURSE_TITLE
    session.flush()
    context.deployment_id = deployment.id

    activity = session.scalar(
        select(Activity)
        .where(Activity.platform_id == platform.id, Activity.context_id == context.id)
        .order_by(Activity.id)
    )
    if activity is None:
        bank = ensure_demo_bank(session, platform.id, context.id)
        skills = session.scalars(
            select(Skill.id).where(Skill.bank_id == bank.id, Skill.name.in_(ACTIVITY_SKILLS))
        ).all()
        activity = Activity(
            platform_id=platform.id,
            context_id=context.id,
            bank_id=bank.id,
            title=ACTIVITY_TITLE,
            points=POINTS,
            settings={"set_size": 3, "skills": sorted(skills)},
        )
        session.add(activity)
        session.flush()
    return DemoCourse(platform.id, activity.id, activity.points)
