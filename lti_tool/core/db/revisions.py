"""Bank revisions: every flush that adds, changes or removes a question or a skill, or changes
a bank, gives the bank a new random revision in the same transaction.

Hooked on the session factory (not on each writer: the import, the edit form, delete, the
demo's seed and any later writer all go through a flush), so a worker that keeps a loaded
bank while its revision stands (workers.bank_cache) can never serve a changed one. Bulk
`update(Item)` statements do not pass here; nothing in Metis issues them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Item, ItemBank, Skill, new_revision


def after_flush(session: Session, _context: Any) -> None:
    """The new, changed and removed rows of this flush (still listed here, and with their
    ids now) say which banks changed; a bank created in it has its revision already."""
    banks: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Item | Skill) and obj.bank_id is not None:
            banks.add(int(obj.bank_id))
        elif isinstance(obj, ItemBank) and obj not in session.new and obj.id is not None:
            banks.add(int(obj.id))
    if banks:
        session.execute(update(ItemBank).where(ItemBank.id.in_(sorted(banks)))
                        .values(revision=new_revision())
                        .execution_options(synchronize_session=False))
