"""A deleted (archived) bank is no longer offered to teachers; a re-import updates the live
version of a question, never the archived one whose answers keep their history."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from lti_tool.core.activity_store import banks_for
from lti_tool.core.db import Database
from lti_tool.core.db.models import Item, ItemBank
from lti_tool.core.itembank import read_bank
from lti_tool.core.itembank.store import course_banks, save_import
from tests.support.course import seed_course

CSV = b"type,name,question,choices,answer\nmultichoice,Q1,What is 1+1?,2|3,1\n"


def test_a_deleted_bank_is_offered_no_more(db: Database) -> None:
    course = seed_course(db)
    with db.session() as s:
        bank = s.scalars(select(ItemBank)).one()
        bank.context_id = course.context_id  # the course's own bank
        s.flush()
        assert [b.id for b in banks_for(s, course.platform_id, course.context_id)] == [bank.id]
        bank.archived_at = datetime.now(UTC)
    with db.session() as s:
        assert banks_for(s, course.platform_id, course.context_id) == []
        assert course_banks(s, course.platform_id, course.context_id) == []


def test_a_reimport_updates_the_live_question_only(db: Database) -> None:
    course = seed_course(db)
    def load(data: bytes) -> None:
        with db.session() as s:
            save_import(s, read_bank("b.csv", data), platform_id=course.platform_id,
                        context_id=course.context_id, bank_name="Bank")

    load(CSV)
    with db.session() as s:
        old = s.scalars(select(Item).where(Item.name == "Q1")).one()
        old.archived_at = datetime.now(UTC)  # replaced by an edit, say
        old_text = old.text
    load(CSV.replace(b"What is 1+1?", b"What is one plus one?"))
    with db.session() as s:
        rows = s.scalars(select(Item).where(Item.name == "Q1").order_by(Item.id)).all()
    assert [r.text for r in rows if r.archived_at is not None] == [old_text]
    assert [r.text for r in rows if r.archived_at is None] == ["What is one plus one?"]
