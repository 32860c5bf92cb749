from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import PassbackStatus, ScorePassback
from lti_tool.core.gradebook.records import mark_for_resend, next_score_timestamp
from lti_tool.lms.ags import Score, ScoreOutcome
from lti_tool.lms.tokens import ServiceError, error_for_status
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers.passback import backoff_s, deliver
from workers.pipeline import process_events


class Poster:
    def __init__(self, *replies: int) -> None:
        self.replies = list(replies)
        self.posted: list[dict[str, Any]] = []

    def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
        self.posted.append(score.to_json())
        status = self.replies.pop(0) if self.replies else 200
        if status == 409:
            return ScoreOutcome.superseded
        if status >= 300:
            raise error_for_status(status, "score refused")
        return ScoreOutcome.accepted


@pytest.fixture()
def passback_id(db: Database, course: Course, engine: RecordingEngine, redis_url: str) -> int:
    event = store_answer(db, course.learner(), course.item_ids[0], {"choice": "0"}).event_id
    out = process_events(db, redis.Redis.from_url(redis_url), engine, [event])
    return out.passbacks[0]


def row(db: Database, pid: int) -> ScorePassback:
    with db.session() as s:
        found = s.get(ScorePassback, pid)
        assert found is not None
        return found


def test_sent_once_with_the_ags_fields(db: Database, passback_id: int) -> None:
    poster = Poster(200)
    assert deliver(db, poster, passback_id) == "sent"
    body = poster.posted[0]
    assert body["userId"] == "101" and body["scoreGiven"] == 10.0
    assert body["scoreMaximum"] == 10.0 and body["gradingProgress"] == "FullyGraded"
    assert deliver(db, poster, passback_id) == "nothing"  # a duplicate task changes nothing
    assert len(poster.posted) == 1 and row(db, passback_id).status == PassbackStatus.sent


@pytest.mark.parametrize("status", [500, 502, 429])
def test_transient_errors_are_raised_for_retry(db: Database, passback_id: int, status: int) -> None:
    with pytest.raises(ServiceError) as err:
        deliver(db, Poster(status), passback_id)
    assert err.value.transient is True
    r = row(db, passback_id)
    assert r.status == PassbackStatus.pending and r.attempts == 1
    assert str(status) in (r.last_error or "")
    assert deliver(db, Poster(200), passback_id) == "sent"


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_client_errors_fail_without_retry(
    db: Database, passback_id: int, status: int
) -> None:
    assert deliver(db, Poster(status), passback_id) == "failed"
    assert row(db, passback_id).status == PassbackStatus.failed


def test_409_means_the_lms_holds_a_newer_score(db: Database, passback_id: int) -> None:
    assert deliver(db, Poster(409), passback_id) == "superseded"
    r = row(db, passback_id)
    assert r.status == PassbackStatus.sent and "409" in (r.last_error or "")


def test_resend_moves_the_timestamp_strictly_forward(db: Database, passback_id: int) -> None:
    deliver(db, Poster(404), passback_id)
    before = row(db, passback_id).score_timestamp
    assert mark_for_resend(db, passback_id, now=before - timedelta(seconds=5))
    after = row(db, passback_id)
    assert after.status == PassbackStatus.pending and after.score_timestamp > before
    poster = Poster(200)
    assert deliver(db, poster, passback_id) == "sent"
    sent = after.score_timestamp.isoformat(timespec="milliseconds")
    assert poster.posted[0]["timestamp"] == sent


def test_a_newer_score_queued_meanwhile_stays_pending(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str, passback_id: int
) -> None:
    client = redis.Redis.from_url(redis_url)

    class RacingPoster(Poster):
        def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
            # While the old score is in flight, a newer answer is processed.
            e = store_answer(db, course.learner(), course.item_ids[1], {"choice": "1"}).event_id
            process_events(db, client, engine, [e])
            return super().post_score(platform_id, lineitem_url, score)

    assert deliver(db, RacingPoster(200), passback_id) == "sent"
    with db.session() as s:
        r = s.scalars(select(ScorePassback)).one()
    assert r.status == PassbackStatus.pending and r.score_given == pytest.approx(5.0)


def test_backoff_grows_with_jitter() -> None:
    waits = [backoff_s(n) for n in range(6)]
    assert all(0.25 <= w for w in waits) and waits[5] > waits[0]
    assert max(backoff_s(30) for _ in range(20)) <= 60.0


def test_scores_within_one_second_still_step_forward_in_whole_seconds() -> None:
    """Moodle compares whole seconds: a second score in the same second must not be dropped."""
    from datetime import UTC, datetime


    first = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0, 100_000, tzinfo=UTC), None)
    second = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0, 900_000, tzinfo=UTC), first)
    third = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC), second)
    assert first == datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert second == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert third == datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    # Naive values (SQLite) are read as UTC.
    assert next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0), second) == third.replace(second=2)
