"""A bank gets a new revision whenever it or one of its questions changes, through any ORM
writer (lti_tool.core.db.revisions), and keeps it while nothing changes."""

from __future__ import annotations

from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Item, ItemBank, Skill
from lti_tool.core.itembank.editing import archive_item
from tests.support.course import seed_course


def revision(db: Database, bank_id: int) -> str | None:
    with db.session() as s:
        return s.scalar(select(ItemBank.revision).where(ItemBank.id == bank_id))


def test_revision_moves_on_every_change_and_only_then(db: Database) -> None:
    course = seed_course(db, items=4)
    with db.session() as s:
        bank_id = int(s.scalar(select(Item.bank_id).where(Item.id == course.item_ids[0])) or 0)
        other = ItemBank(name="Other bank")
        s.add(other)
    first = revision(db, bank_id)
    untouched = revision(db, other.id)
    assert first and untouched and first != untouched
    with db.session() as s:  # reading, even loading every question, changes nothing
        list(s.scalars(select(Item)))
    assert revision(db, bank_id) == first
    seen = {first}
    with db.session() as s:
        s.get(Item, course.item_ids[0]).text = "What is 1 + 1, again?"  # type: ignore[union-attr]
    seen.add(revision(db, bank_id))
    with db.session() as s:
        archive_item(s.get(Item, course.item_ids[1]))  # type: ignore[arg-type]
    seen.add(revision(db, bank_id))
    with db.session() as s:
        s.add(Item(bank_id=bank_id, kind="short", text="New", choices=[], answer={},
                   skill_ids=[]))
    seen.add(revision(db, bank_id))
    with db.session() as s:
        s.get(ItemBank, bank_id).name = "Renamed"  # type: ignore[union-attr]
    seen.add(revision(db, bank_id))
    with db.session() as s:  # a skill renamed: the names a worker keeps with the bank change
        skill = s.scalars(select(Skill).where(Skill.bank_id == bank_id)).first()
        assert skill is not None
        skill.name = "Fractions, renamed"
    seen.add(revision(db, bank_id))
    assert len(seen) == 6 and None not in seen
    assert revision(db, other.id) == untouched  # another bank's changes are not its own
