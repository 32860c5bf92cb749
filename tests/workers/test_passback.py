"""Delivering a score (workers.passback) against a Moodle gradebook without HTTP
(tests/support/gradebook.py): stamped when sent, a 409 read back, verified only when the LMS's
result matches, transient errors raised for retry, final ones not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import PassbackStatus, ScorePassback
from lti_tool.core.gradebook.records import mark_for_resend, next_score_timestamp
from lti_tool.lms.ags import Result, Score, ScoreOutcome
from lti_tool.lms.tokens import ServiceError
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from tests.support.gradebook import MoodleGradebook
from workers.passback import RESENDS_PER_DELIVERY, backoff_s, deliver
from workers.pipeline import process_events


def answer(db: Database, course: Course, engine: RecordingEngine, redis_url: str, n: int,
           right: bool, *, at: datetime | None = None) -> int:
    event = store_answer(db, course.learner(), course.item_ids[n],
                         {"choice": "0" if right else "1"}, now=at).event_id
    out = process_events(db, redis.Redis.from_url(redis_url), engine, [event])
    return out.passbacks[0]


@pytest.fixture()
def passback_id(db: Database, course: Course, engine: RecordingEngine, redis_url: str) -> int:
    return answer(db, course, engine, redis_url, 0, True)


def row(db: Database, pid: int) -> ScorePassback:
    with db.session() as s:
        found = s.get(ScorePassback, pid)
        assert found is not None
        return found


def sent_at(body: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(body["timestamp"]))


def test_verified_once_the_result_is_read_back(db: Database, passback_id: int) -> None:
    lms = MoodleGradebook()
    assert deliver(db, lms, passback_id) == "verified"
    body = lms.posted[0]
    assert body["userId"] == "101" and body["scoreGiven"] == 10.0
    assert body["scoreMaximum"] == 10.0 and body["gradingProgress"] == "FullyGraded"
    r = row(db, passback_id)
    assert r.status == PassbackStatus.verified and r.lms_score == pytest.approx(10.0)
    assert r.verified_at is not None and r.sent_timestamp == sent_at(body)
    assert deliver(db, lms, passback_id) == "nothing"  # a duplicate task changes nothing
    assert len(lms.posted) == 1 and lms.reads == 1


def test_stamped_when_sent_not_when_answered(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    """The answer was given an hour ago (a busy worker, a restart): the post carries now."""
    pid = answer(db, course, engine, redis_url, 0, True,
                 at=datetime.now(UTC) - timedelta(hours=1))
    before = datetime.now(UTC).replace(microsecond=0)
    lms = MoodleGradebook()
    assert deliver(db, lms, pid) == "verified"
    assert sent_at(lms.posted[0]) >= before


def test_a_409_is_read_back_and_the_score_sent_after_the_lms_time(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str, passback_id: int
) -> None:
    """Moodle processed the first score late (its clock 40 s ahead of the answers): the second
    score, stamped now, is refused; the result shows the older score, so it is sent again
    stamped after the time Moodle gave that grade."""
    lms = MoodleGradebook()
    late = datetime.now(UTC) + timedelta(seconds=40)
    lms.set_clock(late.timestamp())
    assert deliver(db, lms, passback_id) == "verified"  # 10 of 10, graded at `late`
    second = answer(db, course, engine, redis_url, 1, False)
    assert second == passback_id
    assert deliver(db, lms, second) == "verified"
    assert [p["scoreGiven"] for p in lms.posted] == [10.0, 5.0, 5.0]
    refused, resent = sent_at(lms.posted[1]), sent_at(lms.posted[2])
    assert refused < late.replace(microsecond=0) < resent  # stepped past Moodle's own time
    assert lms.held() == pytest.approx(5.0)
    assert row(db, second).status == PassbackStatus.verified


def test_a_409_for_a_score_the_lms_holds_is_verified(db: Database, passback_id: int) -> None:
    lms = MoodleGradebook()
    assert deliver(db, lms, passback_id) == "verified"
    # Same score again (teacher's resend) in the same second: refused, but the LMS holds it.
    lms.set_clock(datetime.now(UTC).timestamp() + 3600)
    lms.item.results["101"].timemodified = lms.store.now_s()
    assert mark_for_resend(db, passback_id)
    assert deliver(db, lms, passback_id) == "verified"
    assert len(lms.posted) == 2  # no resend: the 409 was for the score it holds


def test_a_score_the_lms_keeps_refusing_ends_as_mismatch(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str, passback_id: int
) -> None:
    class NoGradeTimes(MoodleGradebook):
        """An LMS whose results say nothing of when it stored them."""

        def read_all_results(self, platform_id: int, lineitem_url: str) -> dict[str, Result]:
            return {u: replace(r, timestamp=None)
                    for u, r in super().read_all_results(platform_id, lineitem_url).items()}

    lms = NoGradeTimes()
    assert deliver(db, lms, passback_id) == "verified"
    second = answer(db, course, engine, redis_url, 1, False)
    # A grade stamped a year ahead: every post of the newer score is refused.
    lms.item.results["101"].timemodified = lms.store.now_s() + 365 * 86400
    assert deliver(db, lms, second) == "mismatch"
    r = row(db, second)
    assert len(lms.posted) == 2 + RESENDS_PER_DELIVERY
    assert r.status == PassbackStatus.mismatch and r.lms_score == pytest.approx(10.0)
    assert "10 of 10" in (r.last_error or "")


def test_accepted_but_unreadable_stays_sent(db: Database, passback_id: int) -> None:
    lms = MoodleGradebook(read_faults=[403])
    assert deliver(db, lms, passback_id) == "sent"
    r = row(db, passback_id)
    assert r.status == PassbackStatus.sent and "could not be read" in (r.last_error or "")


def test_a_409_that_cannot_be_read_back_is_retried(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str, passback_id: int
) -> None:
    lms = MoodleGradebook()
    lms.set_clock(datetime.now(UTC).timestamp() + 40)
    assert deliver(db, lms, passback_id) == "verified"
    second = answer(db, course, engine, redis_url, 1, False)
    lms.read_faults = [503]
    with pytest.raises(ServiceError) as err:
        deliver(db, lms, second)
    assert err.value.transient and row(db, second).status == PassbackStatus.pending
    lms.store.clock = lambda: datetime.now(UTC).timestamp() - 3600  # the LMS's clock is fine
    lms.item.results["101"].timemodified = lms.store.now_s()
    assert deliver(db, lms, second) == "verified"  # the retry, stamped afresh
    stamps = [sent_at(p) for p in lms.posted]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


@pytest.mark.parametrize("status", [500, 502, 429])
def test_transient_errors_are_raised_for_retry(db: Database, passback_id: int, status: int) -> None:
    with pytest.raises(ServiceError) as err:
        deliver(db, MoodleGradebook(post_faults=[status]), passback_id)
    assert err.value.transient is True
    r = row(db, passback_id)
    assert r.status == PassbackStatus.pending and r.attempts == 1
    assert str(status) in (r.last_error or "")
    assert deliver(db, MoodleGradebook(), passback_id) == "verified"


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_client_errors_fail_without_retry(
    db: Database, passback_id: int, status: int
) -> None:
    assert deliver(db, MoodleGradebook(post_faults=[status]), passback_id) == "failed"
    assert row(db, passback_id).status == PassbackStatus.failed


def test_every_post_is_stamped_after_the_last(db: Database, passback_id: int) -> None:
    lms = MoodleGradebook(post_faults=[404])
    deliver(db, lms, passback_id)
    assert mark_for_resend(db, passback_id)
    assert row(db, passback_id).status == PassbackStatus.pending
    assert deliver(db, lms, passback_id) == "verified"
    first, second = (sent_at(p) for p in lms.posted)
    assert second > first  # even within the same second
    assert row(db, passback_id).sent_timestamp == second


def test_a_newer_score_recorded_meanwhile_stays_pending(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str, passback_id: int
) -> None:
    client = redis.Redis.from_url(redis_url)

    class Racing(MoodleGradebook):
        def post_score(self, platform_id: int, lineitem_url: str, score: Score) -> ScoreOutcome:
            # While the old score is in flight, a newer answer is processed.
            e = store_answer(db, course.learner(), course.item_ids[1], {"choice": "1"}).event_id
            process_events(db, client, engine, [e])
            return super().post_score(platform_id, lineitem_url, score)

    assert deliver(db, Racing(), passback_id) == "superseded"
    with db.session() as s:
        r = s.scalars(select(ScorePassback)).one()
    assert r.status == PassbackStatus.pending and r.score_given == pytest.approx(5.0)


def test_backoff_grows_with_jitter() -> None:
    waits = [backoff_s(n) for n in range(6)]
    assert all(0.25 <= w for w in waits) and waits[5] > waits[0]
    assert max(backoff_s(30) for _ in range(20)) <= 60.0


def test_scores_within_one_second_still_step_forward_in_whole_seconds() -> None:
    """Moodle compares whole seconds: a second score in the same second must not be dropped."""
    first = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0, 100_000, tzinfo=UTC), None)
    second = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0, 900_000, tzinfo=UTC), first)
    third = next_score_timestamp(datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC), second)
    assert first == datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert second == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert third == datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    # Naive values (SQLite) are read as UTC.
    assert next_score_timestamp(datetime(2026, 1, 1, 12, 0, 0), second) == third.replace(second=2)
