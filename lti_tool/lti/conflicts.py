"""Upserts race when two launches of a new user/course arrive together: retry once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")


def retry_on_conflict(work: Callable[[], T]) -> T:
    """Run `work` (one transaction); if a unique constraint lost a race, run it once more,
    when the other transaction's row is visible and the upsert becomes an update."""
    try:
        return work()
    except IntegrityError:
        return work()
