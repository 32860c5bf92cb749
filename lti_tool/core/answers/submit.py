"""The grade event: an answer graded on the server, stored with its outbox row in one
transaction, then handed to Redis by task name. Nothing here imports Celery tasks or torch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lti_tool.core.activities import from_activity
from lti_tool.core.answers.check import GradingError, grade
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, Answer, EventStatus, GradeEvent, Item, new_uuid
from lti_tool.core.practice.sets import try_state

log = logging.getLogger("metis.events")

# Sends one event id to the queue; raises when the broker cannot take it.
Sender = Callable[[str], None]
# Runs bookkeeping that the caller need not wait for: now, or (the web) once the response
# has gone out.
Later = Callable[[Callable[[], None]], None]


def run_now(work: Callable[[], None]) -> None:
    work()


@dataclass(frozen=True)
class Learner:
    """Who answers where, as restored from the launch (never from the form)."""

    platform_id: int
    deployment_id: int
    context_id: int
    activity_id: int
    user_id: int
    resource_link_id: int | None = None  # whose line item receives the score


@dataclass(frozen=True)
class StoredAnswer:
    event_id: str
    answer_id: int
    item_id: int
    correct: bool  # full credit
    queued: bool = False
    # The item's feedback for this particular answer (Grade.feedback), for the page to show.
    feedback: str = ""
    credit: float = 0.0  # the share of the marks (partial credit), what the score counts
    tries_used: int = 1  # on this question in this set, this one included
    tries_left: int = 0  # 0: the question is closed (right, or the last try)
    response: dict[str, Any] = field(default_factory=dict)  # as stored (normalised)


class UnknownItem(LookupError):
    """The item does not exist or does not belong to this activity's bank."""


class AlreadyAnswered(ValueError):
    """The student answered this question of their set before: it is graded once."""


def load_item(session: Session, learner: Learner, item_id: int) -> Item:
    activity = session.get(Activity, learner.activity_id)
    item = session.get(Item, item_id)
    if (
        activity is None
        or item is None
        or activity.platform_id != learner.platform_id
        or activity.bank_id is None
        or item.bank_id != activity.bank_id
    ):
        raise UnknownItem(item_id)
    return item


HINTS_FIELD = "hints_seen"  # the answer form's hidden field: hints opened before answering


def hints_seen(form: Mapping[str, str], item: Item) -> int:
    """How many hints the page says the student opened before answering: 0 when the field is
    missing or malformed, never more than the item has. The browser reports it, so it is kept
    for teachers only and never touches grading."""
    try:
        count = int(str(form.get(HINTS_FIELD) or "0").strip())
    except ValueError:
        return 0
    return max(0, min(count, len(item.hints or [])))


def store_answer(
    db: Database,
    learner: Learner,
    item_id: int,
    form: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> StoredAnswer:
    """Grade and store the answer and its grade event atomically (both or neither)."""
    now = now or datetime.now(UTC)
    event_id = new_uuid()
    with db.session() as s:
        item = load_item(s, learner, item_id)
        activity = s.get(Activity, learner.activity_id)
        tries = from_activity(activity).tries if activity is not None else 1
        before = try_state(s, learner.user_id, learner.activity_id, item.id, tries)
        if before.closed:
            raise AlreadyAnswered(item_id)
        result = grade(item, form)
        used = before.used + 1
        tries_left = 0 if result.correct or not before.in_set else max(0, tries - used)
        # Graded first, then the hint count joins what is stored (only when hints were used).
        response = dict(result.response)
        hints = hints_seen(form, item)
        if hints:
            response["hints"] = hints
        answer = Answer(
            event_id=event_id,
            user_id=learner.user_id,
            activity_id=learner.activity_id,
            item_id=item.id,
            response=response,
            correct=result.correct,
            credit=result.credit,
            answered_at=now,
        )
        s.add(answer)
        s.flush()
        s.add(
            GradeEvent(
                event_id=event_id,
                answer_id=answer.id,
                user_id=learner.user_id,
                activity_id=learner.activity_id,
                status=EventStatus.stored,
                created_at=now,
                deployment_id=learner.deployment_id,
                resource_link_id=learner.resource_link_id,
            )
        )
        answer_id = answer.id
    return StoredAnswer(event_id, answer_id, item_id, result.correct, feedback=result.feedback,
                        credit=result.credit, tries_used=used, tries_left=tries_left,
                        response=dict(result.response))


def enqueue(db: Database, event_id: str, send: Sender, later: Later = run_now) -> bool:
    """Put a stored event on the queue; False (event left `stored`) when the broker is down.
    Marking it enqueued goes through `later`: until then the event reads `stored`, which only
    means the relay may send it once more (every step downstream is idempotent by event id)."""
    try:
        send(event_id)
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves the event to the relay
        log.warning("event %s left for the outbox relay: %s", event_id, type(exc).__name__)
        with db.session() as s:
            s.execute(
                update(GradeEvent)
                .where(GradeEvent.event_id == event_id)
                .values(attempts=GradeEvent.attempts + 1, last_error=f"enqueue: {exc}"[:500])
            )
        return False
    later(lambda: mark_enqueued(db, event_id))
    return True


def mark_enqueued(db: Database, event_id: str, *, now: datetime | None = None) -> None:
    """The event went onto the queue now: `enqueued_at` moves to now, also when the relay sent
    it again, so a re-sent event waits a whole interval before it is re-sent once more."""
    # Conditional: a fast worker may already have marked the event processed.
    with db.session() as s:
        s.execute(
            update(GradeEvent)
            .where(GradeEvent.event_id == event_id,
                   GradeEvent.status.in_((EventStatus.stored, EventStatus.enqueued)))
            .values(status=EventStatus.enqueued, enqueued_at=now or datetime.now(UTC))
        )


def submit(
    db: Database, learner: Learner, item_id: int, form: Mapping[str, str], send: Sender,
    later: Later = run_now,
) -> StoredAnswer:
    """The answer endpoint's whole job: grade, store, enqueue (the enqueued mark through
    `later`: the student's feedback does not wait for a second commit)."""
    stored = store_answer(db, learner, item_id, form)
    queued = enqueue(db, stored.event_id, send, later)
    return replace(stored, queued=queued)


__all__ = [
    "AlreadyAnswered",
    "GradingError",
    "Later",
    "Learner",
    "StoredAnswer",
    "UnknownItem",
    "enqueue",
    "hints_seen",
    "mark_enqueued",
    "run_now",
    "store_answer",
    "submit",
]
