"""Deep linking: the built-in demo item bank, the course's bank choices, creating and editing
an Activity from its settings, and the signed response JWT."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.activities import ActivitySettings, SettingsInvalid
from lti_tool.core.db.models import Activity, Item, ItemBank, Platform, Skill
from lti_tool.core.itembank.demo_bank import DEMO_BANK_NAME, ensure_demo_bank
from lti_tool.lti import keys
from lti_tool.lti.tool_conf import registration_for


def banks_for(s: Session, platform_id: int, context_id: int) -> list[ItemBank]:
    return list(
        s.scalars(
            select(ItemBank)
            .where(ItemBank.platform_id == platform_id, ItemBank.context_id == context_id)
            .order_by(ItemBank.name)
        )
    )


def demo_bank(s: Session, platform_id: int, context_id: int) -> ItemBank:
    """The course's copy of the generated demo bank, created on first use."""
    return ensure_demo_bank(s, platform_id, context_id)


@dataclass(frozen=True)
class BankOption:
    """One item bank the teacher may choose, with its skills and categories to narrow it."""

    value: str  # the form value: an ItemBank id, or "demo"
    name: str
    skills: list[tuple[int, str]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def bank_options(s: Session, platform_id: int, context_id: int) -> list[BankOption]:
    """The demo bank first, then the course's own banks, each with its skills and categories.

    The course's copy of the demo bank is created here when missing: its skills only have ids
    once it exists, and the form lists skills by id so that it works without script.
    """
    demo = demo_bank(s, platform_id, context_id)
    banks = [demo] + [b for b in banks_for(s, platform_id, context_id) if b.id != demo.id]
    ids = [b.id for b in banks]
    skills: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    for skill_id, bank_id, name in s.execute(
        select(Skill.id, Skill.bank_id, Skill.name)
        .where(Skill.bank_id.in_(ids))
        .order_by(Skill.name, Skill.id)
    ):
        skills[bank_id].append((skill_id, name))
    categories: dict[int, list[str]] = {i: [] for i in ids}
    for bank_id, category in s.execute(
        select(Item.bank_id, Item.category)
        .where(Item.bank_id.in_(ids), Item.category != "")
        .group_by(Item.bank_id, Item.category)
        .order_by(Item.category)
    ):
        categories[bank_id].append(category)
    return [
        BankOption("demo" if b.id == demo.id else str(b.id), b.name, skills[b.id],
                   categories[b.id])
        for b in banks
    ]


def resolve_bank(
    s: Session, platform_id: int, context_id: int, choice: ActivitySettings
) -> ItemBank:
    """The chosen bank, checked to be this course's, with the chosen skills and categories
    checked to be the bank's. Raises SettingsInvalid naming the field at fault."""
    if choice.bank == "demo":
        bank = demo_bank(s, platform_id, context_id)
    else:
        found = s.get(ItemBank, int(choice.bank))
        # Only this course's banks on this platform can be chosen.
        if found is None or found.platform_id != platform_id or found.context_id != context_id:
            raise SettingsInvalid({"bank": "That item bank is not available in this course."})
        bank = found
    errors: dict[str, str] = {}
    if choice.skills:
        known = set(s.scalars(select(Skill.id).where(Skill.bank_id == bank.id)))
        if not set(choice.skills) <= known:
            errors["skills"] = (
                "Some chosen skills are not in the chosen item bank: "
                "tick only skills listed under that bank."
            )
    if choice.categories:
        known_categories = set(
            s.scalars(select(Item.category).where(Item.bank_id == bank.id).distinct())
        )
        if not set(choice.categories) <= known_categories:
            errors["categories"] = (
                "Some chosen categories are not in the chosen item bank: "
                "tick only categories listed under that bank."
            )
    if errors:
        raise SettingsInvalid(errors)
    return bank


def create_activity(
    s: Session, platform_id: int, context_id: int, choice: ActivitySettings
) -> Activity:
    bank = resolve_bank(s, platform_id, context_id, choice)
    activity = Activity(platform_id=platform_id, context_id=context_id, title=choice.title)
    choice.apply_to(activity, bank.id)
    s.add(activity)
    s.flush()
    return activity


def is_demo_bank(s: Session, bank_id: int | None) -> bool:
    bank = s.get(ItemBank, bank_id) if bank_id is not None else None
    return bank is not None and bank.name == DEMO_BANK_NAME


class _Resource(DeepLinkResource):
    """pylti1p3's resource link plus the due date, which its `to_dict` leaves out: the line
    item's `endDateTime` and the link's `submission` window (LTI Deep Linking 2.0)."""

    def __init__(self, end_date_time: str | None) -> None:
        self._end_date_time = end_date_time

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self._end_date_time:
            line_item = out.get("lineItem")
            if isinstance(line_item, dict):
                line_item["endDateTime"] = self._end_date_time
            out["submission"] = {"endDateTime": self._end_date_time}
        return out


def response_jwt(
    s: Session,
    *,
    platform_id: int,
    deployment_id: str,
    settings_claim: dict[str, Any],
    activity: Activity,
    choice: ActivitySettings,
    launch_url: str,
) -> str:
    """The LtiDeepLinkingResponse, signed with the newest tool key; `iss` is the client_id.
    The line item's scoreMaximum is the activity's points, its label the title."""
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
        _Resource(choice.end_date_time)
        .set_url(launch_url)
        .set_title(activity.title)
        .set_custom_params({"activity_id": str(activity.id)})
        .set_lineitem(line_item)
    )
    token: str = DeepLink(registration, deployment_id, settings_claim).get_response_jwt([resource])  # type: ignore[arg-type]
    return token
