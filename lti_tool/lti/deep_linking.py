"""Deep linking: the built-in demo item bank, the new Activity, and the signed response JWT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db.models import Activity, Item, ItemBank, Platform, Skill
from lti_tool.lti import keys
from lti_tool.lti.tool_conf import registration_for

DEMO_BANK_NAME = "Built-in demo bank (arithmetic)"
DEMO_ITEMS: list[tuple[str, str, list[str], int]] = [
    # (skill, question, choices, index of the right choice)
    ("addition", "What is 3 + 4?", ["6", "7", "8", "9"], 1),
    ("addition", "What is 12 + 9?", ["21", "19", "22", "20"], 0),
    ("addition", "What is 25 + 17?", ["32", "41", "42", "43"], 2),
    ("subtraction", "What is 10 - 4?", ["5", "6", "7", "4"], 1),
    ("subtraction", "What is 31 - 18?", ["12", "14", "13", "11"], 2),
    ("subtraction", "What is 50 - 27?", ["23", "27", "33", "22"], 0),
    ("multiplication", "What is 6 × 7?", ["36", "48", "42", "49"], 2),
    ("multiplication", "What is 8 × 4?", ["32", "24", "36", "28"], 0),
    ("multiplication", "What is 9 × 9?", ["72", "81", "99", "89"], 1),
    ("division", "What is 56 ÷ 8?", ["6", "8", "9", "7"], 3),
    ("division", "What is 45 ÷ 5?", ["9", "8", "7", "10"], 0),
    ("division", "What is 72 ÷ 9?", ["7", "9", "8", "6"], 2),
]


class DeepLinkFormError(ValueError):
    """The teacher's form is incomplete or wrong; the message is shown next to the form."""


@dataclass(frozen=True)
class ActivityChoice:
    title: str
    points: float
    bank: str  # an ItemBank id, or "demo"


def parse_form(form: dict[str, str]) -> ActivityChoice:
    title = (form.get("title") or "").strip()
    if not title:
        raise DeepLinkFormError("Please give the activity a title.")
    if len(title) > 255:
        raise DeepLinkFormError("The title is longer than 255 characters.")
    try:
        points = float(form.get("points") or "")
    except ValueError:
        raise DeepLinkFormError("Points must be a number.") from None
    if not 0 < points <= 1000:
        raise DeepLinkFormError("Points must be between 0 and 1000.")
    bank = (form.get("bank") or "").strip()
    if bank != "demo" and not bank.isdigit():
        raise DeepLinkFormError("Please choose an item bank.")
    return ActivityChoice(title, points, bank)


def banks_for(s: Session, platform_id: int, context_id: int) -> list[ItemBank]:
    return list(
        s.scalars(
            select(ItemBank)
            .where(ItemBank.platform_id == platform_id, ItemBank.context_id == context_id)
            .order_by(ItemBank.name)
        )
    )


def demo_bank(s: Session, platform_id: int, context_id: int) -> ItemBank:
    """The course's copy of the demo bank, created on first use."""
    bank = s.scalar(
        select(ItemBank).where(
            ItemBank.platform_id == platform_id,
            ItemBank.context_id == context_id,
            ItemBank.name == DEMO_BANK_NAME,
        )
    )
    if bank is not None:
        return bank
    bank = ItemBank(platform_id=platform_id, context_id=context_id, name=DEMO_BANK_NAME)
    s.add(bank)
    s.flush()
    skills: dict[str, int] = {}
    for skill_name, text, choices, right in DEMO_ITEMS:
        if skill_name not in skills:
            skill = Skill(bank_id=bank.id, name=skill_name)
            s.add(skill)
            s.flush()
            skills[skill_name] = skill.id
        s.add(
            Item(
                bank_id=bank.id,
                external_id=f"demo-{len(skills)}-{right}-{text}",
                kind="multichoice",
                text=text,
                choices=choices,
                answer={"choice": right},
                skill_ids=[skills[skill_name]],
            )
        )
    s.flush()
    return bank


def create_activity(
    s: Session, platform_id: int, context_id: int, choice: ActivityChoice
) -> Activity:
    if choice.bank == "demo":
        bank = demo_bank(s, platform_id, context_id)
    else:
        found = s.get(ItemBank, int(choice.bank))
        # Only this course's banks on this platform can be chosen.
        if found is None or found.platform_id != platform_id or found.context_id != context_id:
            raise DeepLinkFormError("That item bank is not available in this course.")
        bank = found
    activity = Activity(
        platform_id=platform_id,
        context_id=context_id,
        bank_id=bank.id,
        title=choice.title,
        points=choice.points,
    )
    s.add(activity)
    s.flush()
    return activity


def response_jwt(
    s: Session,
    *,
    platform_id: int,
    deployment_id: str,
    settings_claim: dict[str, Any],
    activity: Activity,
    launch_url: str,
) -> str:
    """The LtiDeepLinkingResponse, signed with the newest tool key; `iss` is the client_id."""
    platform = s.get(Platform, platform_id)
    assert platform is not None
    registration = registration_for(platform, keys.signing_key(s))
    line_item = (
        LineItem()
        .set_score_maximum(activity.points)
        .set_label(activity.title)
        .set_resource_id(str(activity.id))
    )
    resource = (
        DeepLinkResource()
        .set_url(launch_url)
        .set_title(activity.title)
        .set_custom_params({"activity_id": str(activity.id)})
        .set_lineitem(line_item)
    )
    token: str = DeepLink(registration, deployment_id, settings_claim).get_response_jwt([resource])  # type: ignore[arg-type]
    return token
