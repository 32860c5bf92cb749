"""The answer's response does not wait for the outbox bookkeeping: the event is stored before
the 202, marked enqueued once the response is sent, and a failure there loses nothing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from lti_tool.core.answers import submit as events
from lti_tool.core.db.models import EventStatus, GradeEvent
from lti_tool.core.outbox import pending_event_ids
from tests.support.learner import Learner


def _status(learner: Learner, event_id: str) -> EventStatus:
    with learner.world.db.session() as s:
        return s.scalars(select(GradeEvent.status).where(
            GradeEvent.event_id == event_id)).one()


def _wait_status(learner: Learner, event_id: str, want: set[EventStatus]) -> EventStatus:
    deadline = time.monotonic() + 60
    while (status := _status(learner, event_id)) not in want and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_feedback_comes_before_the_enqueued_mark(learner: Learner,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    release, marking = threading.Event(), threading.Event()
    real = events.mark_enqueued

    def held(*args: object, **kwargs: object) -> None:
        marking.set()
        assert release.wait(120), "the test never released the mark"
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "mark_enqueued", held)
    r = learner.answer(learner.items[0], choice="0")
    try:
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["queued"] is True and body["correct"] is True
        # The response is here while the mark is held: it did not wait for it.
        assert marking.wait(60)
        assert _status(learner, body["event_id"]) is EventStatus.stored
    finally:
        release.set()
    assert _wait_status(learner, body["event_id"], {EventStatus.enqueued,
                                                     EventStatus.processed}) in {
        EventStatus.enqueued, EventStatus.processed}


def test_a_failed_mark_leaves_the_event_for_the_relay(learner: Learner,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tried = threading.Event()

    def broken(*_: object, **__: object) -> None:
        tried.set()
        raise RuntimeError("database went away")

    monkeypatch.setattr(events, "mark_enqueued", broken)
    r = learner.answer(learner.items[0], choice="0")
    assert r.status_code == 202, r.text
    assert tried.wait(60)
    event_id = r.json()["event_id"]
    # Still stored: the outbox relay sends it again (idempotent downstream).
    assert _status(learner, event_id) is EventStatus.stored
    assert event_id in pending_event_ids(learner.world.db)
