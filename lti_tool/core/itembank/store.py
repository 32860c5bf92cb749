"""Item banks in the database: save an import, list a course's banks, load a bank for export.

Re-importing the same file updates the bank instead of duplicating it: a question is the same
item when it has the same external id (Moodle's ID number, the CSV `id`), or, without one, the
same category and name. Items that are no longer in the file are kept (answers refer to them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Context, Item, ItemBank, Skill
from lti_tool.core.itembank.model import ImportReport, ParseResult, Question

MAX_BANK_NAME = 255


@dataclass(frozen=True)
class BankSummary:
    id: int
    name: str
    items: int
    skills: int


def _key(external_id: str | None, category: str, name: str) -> tuple[str, ...]:
    return ("id", external_id) if external_id else ("name", category, name)


def course_banks(session: Session, platform_id: int, context_id: int) -> list[BankSummary]:
    """The course's banks with their item and skill counts, by name."""
    banks = session.scalars(
        select(ItemBank)
        .where(ItemBank.platform_id == platform_id, ItemBank.context_id == context_id,
               ItemBank.archived_at.is_(None))
        .order_by(ItemBank.name, ItemBank.id)
    ).all()
    ids = [b.id for b in banks]
    items: dict[int, int] = {
        bank_id: count for bank_id, count in session.execute(
            select(Item.bank_id, func.count()).where(Item.bank_id.in_(ids))
            .group_by(Item.bank_id))}
    skills: dict[int, int] = {
        bank_id: count for bank_id, count in session.execute(
            select(Skill.bank_id, func.count()).where(Skill.bank_id.in_(ids))
            .group_by(Skill.bank_id))}
    return [BankSummary(b.id, b.name, items.get(b.id, 0), skills.get(b.id, 0)) for b in banks]


def course_bank(session: Session, bank_id: int, platform_id: int,
                context_id: int) -> ItemBank | None:
    """The bank when it belongs to this platform's course, else None (the caller answers 404)."""
    bank = session.get(ItemBank, bank_id)
    if bank is None or bank.platform_id != platform_id or bank.context_id != context_id:
        return None
    return bank


def find_or_create_bank(session: Session, platform_id: int, context_id: int,
                        name: str) -> ItemBank:
    name = " ".join(name.split())[:MAX_BANK_NAME] or "Imported questions"
    bank = session.scalar(select(ItemBank).where(
        ItemBank.platform_id == platform_id, ItemBank.context_id == context_id,
        ItemBank.name == name).order_by(ItemBank.id))
    if bank is None:
        bank = ItemBank(platform_id=platform_id, context_id=context_id, name=name)
        session.add(bank)
        session.flush()
    return bank


def course_context(session: Session, platform_id: int, lms_context_id: str) -> Context:
    """The Context row for an LMS course id, created when nobody has launched from it yet."""
    context = session.scalar(select(Context).where(Context.platform_id == platform_id,
                                                   Context.context_id == lms_context_id))
    if context is None:
        context = Context(platform_id=platform_id, context_id=lms_context_id)
        session.add(context)
        session.flush()
    return context


def skill_ids(session: Session, bank_id: int, names: list[str],
              existing: dict[str, int] | None = None) -> list[int]:
    """Ids of the bank's skills with these names, creating the missing ones. `existing`: the
    bank's skills by name, read once by a caller saving many questions (and kept up to date
    here), instead of once per question."""
    if existing is None:
        rows = session.scalars(select(Skill).where(Skill.bank_id == bank_id))
        existing = {s.name: s.id for s in rows}
    ids: list[int] = []
    for raw in names:
        name = " ".join(raw.split())[:255]
        if not name:
            continue
        if name not in existing:
            skill = Skill(bank_id=bank_id, name=name)
            session.add(skill)
            session.flush()
            existing[name] = skill.id
        if existing[name] not in ids:
            ids.append(existing[name])
    return ids


def save_questions(session: Session, bank: ItemBank, questions: list[Question]) -> tuple[int, int]:
    """Add or update the bank's items from `questions`; returns (created, updated)."""
    # Several items may share a key (two questions with the same name): each occurrence in the
    # file takes the next existing item with that key, so re-imports stay one-to-one.
    existing: dict[tuple[str, ...], list[Item]] = defaultdict(list)
    # Archived versions (deleted, or replaced by an edit) keep their answers' history; a
    # re-import updates the live question only.
    for item in session.scalars(select(Item).where(
            Item.bank_id == bank.id, Item.archived_at.is_(None)).order_by(Item.id)):
        existing[_key(item.external_id, item.category, item.name)].append(item)
    skills = {k.name: k.id for k in session.scalars(select(Skill).where(Skill.bank_id == bank.id))}
    created = updated = 0
    for q in questions:
        external_id = q.external_id[:255] if q.external_id else None
        name, category = q.name[:255], q.category[:1000]
        matches = existing.get(_key(external_id, category, name))
        if matches:
            item = matches.pop(0)
            updated += 1
        else:
            item = Item(bank_id=bank.id)
            session.add(item)
            created += 1
        item.external_id = external_id
        item.name = name
        item.category = category
        item.kind = q.kind
        item.text = q.text
        item.choices = list(q.choices)
        item.answer = dict(q.answer)
        item.feedback = dict(q.feedback)
        item.hints = list(q.hints)
        item.solution = q.solution
        item.skill_ids = skill_ids(session, bank.id, q.skills, skills)
        # A re-import without a stated difficulty clears it: the file is what the bank says.
        item.difficulty_prior = q.difficulty
    session.flush()
    return created, updated


def save_import(session: Session, parsed: ParseResult, *, platform_id: int, context_id: int,
                bank_name: str) -> ImportReport:
    """Save what a parser read into the course's bank called `bank_name` (created if needed)."""
    bank = find_or_create_bank(session, platform_id, context_id, bank_name)
    created, updated = save_questions(session, bank, parsed.questions)
    return ImportReport(bank_id=bank.id, bank_name=bank.name, imported=created, updated=updated,
                        rejected=list(parsed.rejected), warnings=list(parsed.warnings))


def load_questions(session: Session, bank: ItemBank) -> list[Question]:
    """The bank's items as Questions (skills by name), in the order they were added."""
    names = {s.id: s.name for s in session.scalars(select(Skill).where(Skill.bank_id == bank.id))}
    items = session.scalars(select(Item).where(Item.bank_id == bank.id).order_by(Item.id))
    return [
        Question(
            name=item.name, kind=item.kind, text=item.text, choices=list(item.choices or []),
            answer=dict(item.answer or {}), category=item.category,
            feedback=dict(item.feedback or {}), hints=list(item.hints or []),
            solution=item.solution, external_id=item.external_id,
            difficulty=item.difficulty_prior,
            skills=[names[i] for i in item.skill_ids or [] if i in names],
        )
        for item in items
    ]
