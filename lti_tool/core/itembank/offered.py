"""Which questions may be offered in a new practice set: those of the bank not archived.

The one filter the set planners use (the page's first set and stand-in, the worker's bank
load), so that a question the teacher deleted is never offered again while the answers already
given keep it (and its text) for the teacher pages.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from lti_tool.core.db.models import Item


def offered_items(bank_id: int | None) -> Select[Item]:
    """The query for a bank's questions that new sets may use."""
    return select(Item).where(Item.bank_id == bank_id, Item.archived_at.is_(None))
