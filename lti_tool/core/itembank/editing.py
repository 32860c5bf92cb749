"""A teacher's edits to a course's bank: change a question, delete a question, delete a bank.

Deleting archives (`archived_at`): the rows stay, so answers already given keep the question
they answered (its text, choices and skills on the teacher pages), while `offered.offered_items`
keeps it out of every new set. Editing a question nobody has answered changes it in place;
editing one with answers archives that version and adds the edited copy, so old answers still
show the question as the student saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Activity, Answer, Item, ItemBank, Skill, utcnow
from lti_tool.core.itembank.sanitize import clean_html
from lti_tool.core.itembank.store import MAX_BANK_NAME, BankSummary, skill_ids

MAX_NAME = 255
MAX_TEXT = 20_000
MAX_ACCEPTED = 50
MAX_SKILLS = 20
CHOICE_KINDS = ("multichoice", "multiresponse", "truefalse")


class EditError(ValueError):
    """The form cannot be saved; the message says which field and why, for the teacher."""


@dataclass(frozen=True)
class ItemEdit:
    """What the edit form may change. Choices keep their number (their feedback and partial
    credits are parallel lists); the right choice(s) may move."""

    name: str
    text: str
    skills: list[str]
    choices: list[str] = field(default_factory=list)
    right: list[int] = field(default_factory=list)  # choice kinds
    value: float | None = None  # numeric
    tolerance: float | None = None
    accepted: list[str] = field(default_factory=list)  # short answer
    general: str = ""
    solution: str = ""


def live_banks(session: Session, platform_id: int, context_id: int) -> list[BankSummary]:
    """The course's banks not deleted, with the number of questions they still offer."""
    banks = session.scalars(select(ItemBank).where(
        ItemBank.platform_id == platform_id, ItemBank.context_id == context_id,
        ItemBank.archived_at.is_(None)).order_by(ItemBank.name, ItemBank.id)).all()
    ids = [b.id for b in banks]
    items: dict[int, int] = {bank_id: count for bank_id, count in session.execute(
        select(Item.bank_id, func.count()).where(Item.bank_id.in_(ids),
                                                 Item.archived_at.is_(None))
        .group_by(Item.bank_id))}
    skills: dict[int, int] = {bank_id: count for bank_id, count in session.execute(
        select(Skill.bank_id, func.count()).where(Skill.bank_id.in_(ids))
        .group_by(Skill.bank_id))}
    return [BankSummary(b.id, b.name, items.get(b.id, 0), skills.get(b.id, 0)) for b in banks]


def bank_item(session: Session, bank: ItemBank, item_id: int) -> Item | None:
    """The bank's question, when it is this bank's and not deleted (else None: a 404)."""
    item = session.get(Item, item_id)
    if item is None or item.bank_id != bank.id or item.archived_at is not None:
        return None
    return item


def answers_to(session: Session, item_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Answer)
                              .where(Answer.item_id == item_id)) or 0)


def activities_using(session: Session, bank_id: int) -> list[str]:
    """Titles of the activities that practise this bank (they lose its questions with it)."""
    return list(session.scalars(select(Activity.title).where(Activity.bank_id == bank_id)
                                .order_by(Activity.id)))


def archive_item(item: Item, now: datetime | None = None) -> None:
    item.archived_at = now or utcnow()


def archive_bank(session: Session, bank: ItemBank, now: datetime | None = None) -> int:
    """Delete a bank: it and all its questions are archived. The name gets a "(deleted …)"
    suffix so that a new bank, or a re-import, with the same name starts afresh instead of
    landing in the hidden one. Returns the number of questions archived."""
    now = now or utcnow()
    items = list(session.scalars(select(Item).where(Item.bank_id == bank.id,
                                                    Item.archived_at.is_(None))))
    for item in items:
        item.archived_at = now
    bank.archived_at = now
    suffix = f" (deleted {now:%Y-%m-%d %H:%M:%S})"
    bank.name = bank.name[: MAX_BANK_NAME - len(suffix)] + suffix
    session.flush()
    return len(items)


def parse_edit(item: Item, form: Mapping[str, str]) -> ItemEdit:
    """The edit form's fields for this question, checked; EditError names what is wrong.
    (A NUL never gets here: the app refuses it in any field, see web/nul_guard.)"""
    name = " ".join((form.get("name") or "").split())
    if not name:
        raise EditError("the question needs a name")
    if len(name) > MAX_NAME:
        raise EditError(f"the name is too long (up to {MAX_NAME} characters)")
    text = clean_html(form.get("text") or "").strip()
    if not text:
        raise EditError("the question text cannot be empty")
    if len(text) > MAX_TEXT:
        raise EditError(f"the question text is too long (up to {MAX_TEXT:,} characters)")
    skills = [s for s in (" ".join(p.split()) for p in (form.get("skills") or "").split(","))
              if s]
    if len(skills) > MAX_SKILLS:
        raise EditError(f"up to {MAX_SKILLS} skills per question")
    edit: dict[str, Any] = {
        "name": name, "text": text, "skills": skills,
        "general": clean_html(form.get("general") or "").strip(),
        "solution": clean_html(form.get("solution") or "").strip()}
    if item.kind in CHOICE_KINDS:
        edit.update(_choices(item, form))
    elif item.kind == "numeric":
        edit["value"] = _number(form.get("value"), "the right answer")
        edit["tolerance"] = abs(_number(form.get("tolerance") or "0", "the tolerance"))
    elif item.kind == "shortanswer":
        accepted = [" ".join(a.split()) for a in (form.get("accepted") or "").splitlines()]
        accepted = [a for a in accepted if a]
        if not accepted:
            raise EditError("give at least one accepted answer (one per line)")
        if len(accepted) > MAX_ACCEPTED:
            raise EditError(f"up to {MAX_ACCEPTED} accepted answers")
        edit["accepted"] = accepted
    return ItemEdit(**edit)


def _choices(item: Item, form: Mapping[str, str]) -> dict[str, Any]:
    count = len(item.choices or [])
    choices = [clean_html(form.get(f"choice-{n}") or "").strip() for n in range(count)]
    if any(not c for c in choices):
        raise EditError("every choice needs a text (the number of choices cannot change here)")
    raw = form.get("right") or ""
    try:
        right = sorted({int(r) for r in raw.split(",") if r.strip()})
    except ValueError:
        raise EditError("the right answer must be one of the choices") from None
    if not right or any(not 0 <= r < count for r in right):
        raise EditError("choose the right answer among the choices")
    if item.kind != "multiresponse" and len(right) > 1:
        raise EditError("this question has exactly one right answer")
    return {"choices": choices, "right": right}


def _number(raw: str | None, what: str) -> float:
    try:
        value = float((raw or "").strip().replace(",", "."))
    except ValueError:
        raise EditError(f"{what} must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise EditError(f"{what} must be a number")
    return value


def save_edit(session: Session, item: Item, edit: ItemEdit) -> Item:
    """Apply the edit; returns the question as it now stands (a new row when the old version
    has answers, so that their history keeps the question they answered)."""
    target = item
    if answers_to(session, item.id):
        archive_item(item)
        target = Item(bank_id=item.bank_id, external_id=item.external_id, category=item.category,
                      kind=item.kind, choices=list(item.choices or []),
                      answer=dict(item.answer or {}), feedback=dict(item.feedback or {}),
                      hints=list(item.hints or []), difficulty_prior=item.difficulty_prior)
        session.add(target)
    target.name = edit.name
    target.text = edit.text
    target.skill_ids = skill_ids(session, item.bank_id, edit.skills)
    target.solution = edit.solution
    feedback = dict(target.feedback or {})
    if edit.general:
        feedback["general"] = edit.general
    else:
        feedback.pop("general", None)
    target.feedback = feedback
    answer = dict(target.answer or {})
    if item.kind in CHOICE_KINDS:
        target.choices = list(edit.choices)
        was = answer.get("choices", [answer.get("choice")])
        if sorted(int(r) for r in was if r is not None) != edit.right:
            # Partial credits were set for the old right answer: grade the new one plainly.
            answer.pop("credits", None)
            answer.pop("weights", None)
        if item.kind == "multiresponse":
            answer["choices"] = list(edit.right)
        else:
            answer["choice"] = edit.right[0]
    elif item.kind == "numeric":
        answer["value"], answer["tolerance"] = edit.value, edit.tolerance
    elif item.kind == "shortanswer":
        answer["accepted"] = list(edit.accepted)
    target.answer = answer
    session.flush()
    return target
