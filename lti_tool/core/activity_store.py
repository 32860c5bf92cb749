"""Activities in the database: the course's bank choices for the settings form, the checks that
need the database (the bank and its skills belong to this course), and creating an activity."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.activities import ActivitySettings, SettingsInvalid
from lti_tool.core.db.models import Activity, Item, ItemBank, Skill
from lti_tool.core.itembank.demo_bank import DEMO_BANK_NAME, ensure_demo_bank
from lti_tool.core.parsing import parse_id


def banks_for(s: Session, platform_id: int, context_id: int) -> list[ItemBank]:
    return list(
        s.scalars(
            select(ItemBank)
            .where(ItemBank.platform_id == platform_id, ItemBank.context_id == context_id,
                   ItemBank.archived_at.is_(None))  # a deleted bank is offered no more
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
        bank_id = parse_id(choice.bank)
        found = s.get(ItemBank, bank_id) if bank_id is not None else None
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
