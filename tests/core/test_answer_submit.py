from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from lti_tool.core.answers import submit as events
from lti_tool.core.answers.submit import GradingError, UnknownItem, enqueue, store_answer, submit
from lti_tool.core.db import Database
from lti_tool.core.db.models import Answer, EventStatus, GradeEvent
from lti_tool.core.outbox import STALE_ENQUEUED, relay
from tests.support.course import Course


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_answer_and_event_are_stored_together(db: Database, course: Course) -> None:
    stored = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"})
    assert stored.correct is True
    with db.session() as s:
        ev = s.get(GradeEvent, stored.event_id)
        answer = s.get(Answer, stored.answer_id)
        assert ev is not None and answer is not None
        assert ev.status == EventStatus.stored and ev.answer_id == answer.id
        assert answer.event_id == stored.event_id and answer.response == {"choice": 0}
        assert ev.user_id == course.user_ids[0] and ev.activity_id == course.activity_id
        assert ev.resource_link_id == course.resource_link_id
        assert ev.deployment_id == course.deployment_id


def test_a_failing_event_insert_rolls_back_the_answer(
    db: Database, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"})
    # The next answer gets a fresh answer.event_id but its grade event collides on the key.
    ids = iter(["fresh-answer-event-id"])
    monkeypatch.setattr(events, "new_uuid", lambda: next(ids))
    with db.session() as s:
        s.get(GradeEvent, first.event_id).event_id = "fresh-answer-event-id"  # type: ignore[union-attr]
    with pytest.raises(Exception):  # noqa: B017 - the database's own IntegrityError flavour
        store_answer(db, course.learner(), course.item_ids[1], {"choice": "0"})
    assert count(db, Answer) == 1 and count(db, GradeEvent) == 1


def test_bad_input_stores_nothing(db: Database, course: Course) -> None:
    with pytest.raises(GradingError):
        store_answer(db, course.learner(), course.item_ids[0], {"choice": "9"})
    with pytest.raises(UnknownItem):
        store_answer(db, course.learner(), 999_999, {"choice": "0"})
    assert count(db, Answer) == 0 and count(db, GradeEvent) == 0


def test_broker_down_leaves_the_event_for_the_relay(db: Database, course: Course) -> None:
    def down(_: str) -> None:
        raise ConnectionError("redis is down")

    stored = submit(db, course.learner(), course.item_ids[0], {"choice": "1"}, down)
    assert stored.queued is False and stored.correct is False
    with db.session() as s:
        ev = s.get(GradeEvent, stored.event_id)
        assert ev is not None and ev.status == EventStatus.stored and ev.attempts == 1
    assert relay(db, down) == 0
    sent: list[str] = []
    assert relay(db, sent.append) == 1 and sent == [stored.event_id]
    assert relay(db, sent.append) == 0  # enqueued now: not sent again
    with db.session() as s:
        assert s.get(GradeEvent, stored.event_id).status == EventStatus.enqueued  # type: ignore[union-attr]


def test_enqueue_never_downgrades_a_processed_event(db: Database, course: Course) -> None:
    stored = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"})

    def worker_was_faster(event_id: str) -> None:
        with db.session() as s:
            s.get(GradeEvent, event_id).status = EventStatus.processed  # type: ignore[union-attr]

    assert enqueue(db, stored.event_id, worker_was_faster) is True
    with db.session() as s:
        assert s.get(GradeEvent, stored.event_id).status == EventStatus.processed  # type: ignore[union-attr]


def test_a_lost_message_is_sent_again_once_per_interval(db: Database, course: Course) -> None:
    """An event enqueued and never processed (its message lost) goes out again after
    STALE_ENQUEUED, then waits another interval: not once per relay run (382 messages for 63
    events were seen when every run re-sent every stale event)."""
    stored = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"})
    sent: list[str] = []
    t0 = datetime.now(UTC)
    assert relay(db, sent.append, now=t0) == 1
    runs = [t0 + timedelta(seconds=15 * n) for n in range(1, 61)]  # 15 minutes of beat runs
    resent = sum(relay(db, sent.append, now=at) for at in runs)
    assert resent == 2 and sent == [stored.event_id] * 3  # about 5 and 10 minutes in
    with db.session() as s:
        ev = s.get(GradeEvent, stored.event_id)
        assert ev is not None and ev.status == EventStatus.enqueued
        assert ev.enqueued_at is not None and ev.enqueued_at > t0 + STALE_ENQUEUED
