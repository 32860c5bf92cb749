"""The demo's data: the demo LMS registered and approved, one course with one practice activity."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db.models import (
    Activity,
    Context,
    Deployment,
    Item,
    ItemBank,
    Platform,
    PlatformStatus,
    Skill,
)

COURSE_ID = "course-101"
COURSE_TITLE = "Arithmetic 101"
ACTIVITY_TITLE = "Fractions, decimals and percentages"
POINTS = 10.0

# (skill, kind, text, choices, answer)
_ITEMS: tuple[tuple[str, str, str, list[str], dict[str, object]], ...] = (
    ("fractions", "multichoice", "What is 1/2 + 1/4?", ["3/4", "2/6", "1/8"], {"choice": 0}),
    ("fractions", "multichoice", "Which is larger: 2/3 or 3/5?", ["2/3", "3/5"], {"choice": 0}),
    ("fractions", "multichoice", "Simplify 6/8.", ["3/4", "2/3", "6/8 is simplest"], {"choice": 0}),
    ("fractions", "numeric", "What is 3/4 of 20?", [], {"value": 15}),
    ("decimals", "numeric", "What is 0.3 + 0.45?", [], {"value": 0.75, "tolerance": 1e-9}),
    ("decimals", "multichoice", "Round 2.46 to one decimal.", ["2.5", "2.4", "2.0"], {"choice": 0}),
    ("decimals", "numeric", "What is 1.2 × 3?", [], {"value": 3.6, "tolerance": 1e-9}),
    ("decimals", "multichoice", "Which equals 1/5?", ["0.2", "0.5", "0.15"], {"choice": 0}),
    ("percentages", "numeric", "What is 25% of 80?", [], {"value": 20}),
    (
        "percentages",
        "multichoice",
        "Write 0.07 as a percentage.",
        ["7%", "0.7%", "70%"],
        {"choice": 0},
    ),
    ("percentages", "numeric", "A price of 50 rises by 10%. New price?", [], {"value": 55}),
    (
        "percentages",
        "multichoice",
        "Which is 3/4 as a percentage?",
        ["75%", "34%", "43%"],
        {"choice": 0},
    ),
)


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
        activity = Activity(
            platform_id=platform.id,
            context_id=context.id,
            bank_id=_item_bank(session, platform.id, context.id),
            title=ACTIVITY_TITLE,
            points=POINTS,
            settings={"set_size": 3},
        )
        session.add(activity)
        session.flush()
    return DemoCourse(platform.id, activity.id, activity.points)


def _item_bank(session: Session, platform_id: int, context_id: int) -> int:
    bank = ItemBank(platform_id=platform_id, context_id=context_id, name="Arithmetic basics")
    session.add(bank)
    session.flush()
    skills: dict[str, int] = {}
    for name in dict.fromkeys(skill for skill, *_ in _ITEMS):
        skill = Skill(bank_id=bank.id, name=name)
        session.add(skill)
        session.flush()
        skills[name] = skill.id
    for n, (skill_name, kind, text, choices, answer) in enumerate(_ITEMS, start=1):
        session.add(
            Item(
                bank_id=bank.id,
                external_id=f"demo-{n}",
                kind=kind,
                text=text,
                choices=choices,
                answer=answer,
                skill_ids=[skills[skill_name]],
            )
        )
    session.flush()
    return bank.id
