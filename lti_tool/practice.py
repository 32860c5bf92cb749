"""What the student page shows: the current practice set with its items (never their answers),
read from the database or the Redis cache the workers fill. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db.models import Activity, EventStatus, GradeEvent, Item, PracticeSet, ResourceLink

FIRST_SET_SIZE = 5


@dataclass(frozen=True)
class Place:
    """The activity a launch practises in, checked against the launch's platform."""

    activity_id: int
    bank_id: int | None
    title: str


def place_of(session: Session, platform_id: int, resource_link_id: int | None) -> Place | None:
    if resource_link_id is None:
        return None
    link = session.get(ResourceLink, resource_link_id)
    if link is None or link.platform_id != platform_id or link.activity_id is None:
        return None
    activity = session.get(Activity, link.activity_id)
    if activity is None or activity.platform_id != platform_id:
        return None
    return Place(activity.id, activity.bank_id, activity.title)


def public_item(item: Item, why: str = "") -> dict[str, Any]:
    """An item as the browser may see it: no `answer`, no teacher feedback."""
    return {"item_id": item.id, "kind": item.kind, "text": item.text,
            "choices": list(item.choices or []), "why": why}


def set_view(session: Session, place: Place, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [int(e["item_id"]) for e in entries]
    items = {i.id: i for i in session.scalars(
        select(Item).where(Item.id.in_(ids), Item.bank_id == place.bank_id))}
    return [public_item(items[int(e["item_id"])], str(e.get("why", "")))
            for e in entries if int(e["item_id"]) in items]


def current_set(session: Session, place: Place, user_id: int) -> dict[str, Any]:
    """The newest stored set, or the bank's first items before any answer."""
    ps = session.scalars(
        select(PracticeSet)
        .where(PracticeSet.user_id == user_id, PracticeSet.activity_id == place.activity_id)
        .order_by(PracticeSet.id.desc())
        .limit(1)
    ).first()
    if ps is not None:
        return {"event_id": ps.event_id, "set_id": ps.id,
                "items": set_view(session, place, ps.items), "feedback": ps.feedback}
    first = session.scalars(
        select(Item).where(Item.bank_id == place.bank_id).order_by(Item.id).limit(FIRST_SET_SIZE)
    )
    return {"event_id": None, "set_id": None,
            "items": [public_item(i, "a first look at this topic") for i in first],
            "feedback": {}}


def pending_count(session: Session, place: Place, user_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(GradeEvent).where(
            GradeEvent.user_id == user_id,
            GradeEvent.activity_id == place.activity_id,
            GradeEvent.status != EventStatus.processed,
        )
    ) or 0)
