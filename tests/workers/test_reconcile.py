"""The periodic reconciliation (workers.reconcile) against a Moodle gradebook without HTTP:
recent scores read back once per line item, mismatches repaired a bounded number of times,
every run idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import PassbackStatus, ScorePassback
from lti_tool.core.gradebook.records import mark_for_resend
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from tests.support.gradebook import MoodleGradebook
from workers.passback import deliver
from workers.pipeline import process_events
from workers.reconcile import MAX_REPAIRS, RECENT, RECHECK_VERIFIED, reconcile


def scored(db: Database, course: Course, engine: RecordingEngine, redis_url: str,
           student: int = 0, item: int = 0) -> int:
    event = store_answer(db, course.learner(student), course.item_ids[item],
                         {"choice": "0"}).event_id
    return process_events(db, redis.Redis.from_url(redis_url), engine, [event]).passbacks[0]


def row(db: Database, pid: int) -> ScorePassback:
    with db.session() as s:
        found = s.get(ScorePassback, pid)
        assert found is not None
        return found


@pytest.fixture()
def course(db: Database) -> Course:
    from tests.support.course import seed_course

    return seed_course(db, students=3)


def test_an_unverified_score_is_verified_once(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    lms = MoodleGradebook(read_faults=[403])
    pid = scored(db, course, engine, redis_url)
    assert deliver(db, lms, pid) == "sent"  # accepted, not readable then
    report = reconcile(db, lms)
    assert (report.checked, report.verified, report.resend) == (1, 1, [])
    assert row(db, pid).status == PassbackStatus.verified
    again = reconcile(db, lms)  # nothing due: a verified score waits RECHECK_VERIFIED
    assert again.checked == 0 and lms.reads == 2


def test_a_mismatch_is_sent_again_then_left_to_the_teacher(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    lms = MoodleGradebook()
    pid = scored(db, course, engine, redis_url)
    assert deliver(db, lms, pid) == "verified"
    later = datetime.now(UTC) + RECHECK_VERIFIED + timedelta(minutes=1)
    for repair in range(1, MAX_REPAIRS + 1):
        lms.item.results.clear()  # the LMS lost the grade (another tool, a restored backup)
        report = reconcile(db, lms, now=later)
        assert report.resend == [pid]
        r = row(db, pid)
        assert r.status == PassbackStatus.pending and r.repairs == repair
        assert "no grade" in (r.last_error or "")
        assert reconcile(db, lms, now=later).checked == 0  # pending: not read twice
        assert deliver(db, lms, pid) == "verified" and lms.held() == pytest.approx(10.0)
        later += RECHECK_VERIFIED + timedelta(minutes=1)
    lms.item.results.clear()
    report = reconcile(db, lms, now=later)
    assert report.resend == [] and report.mismatched == 1
    assert row(db, pid).status == PassbackStatus.mismatch
    assert mark_for_resend(db, pid) and row(db, pid).repairs == 0  # the teacher's resend
    assert deliver(db, lms, pid) == "verified"


def test_one_read_per_line_item_and_a_bounded_batch(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    lms = MoodleGradebook(read_faults=[403, 403, 403])
    pids = [scored(db, course, engine, redis_url, n) for n in range(3)]
    for pid in pids:
        assert deliver(db, lms, pid) == "sent"
    reads = lms.reads
    first = reconcile(db, lms, limit=2)
    assert first.checked == 2 and lms.reads == reads + 1  # both on one line item: one read
    second = reconcile(db, lms, limit=2)
    assert second.checked == 1 and lms.reads == reads + 2  # the one left
    assert all(row(db, p).status == PassbackStatus.verified for p in pids)


def test_unreadable_results_leave_the_status_and_move_on(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    lms = MoodleGradebook(read_faults=[403])
    pid = scored(db, course, engine, redis_url)
    assert deliver(db, lms, pid) == "sent"
    lms.read_faults = [503]
    report = reconcile(db, lms)
    assert report.unreadable == 1 and report.checked == 0
    r = row(db, pid)
    assert r.status == PassbackStatus.sent and r.checked_at is not None
    assert reconcile(db, lms).unreadable == 0  # checked just now: the next run moves on


def test_old_or_changed_scores_are_left_alone(
    db: Database, course: Course, engine: RecordingEngine, redis_url: str
) -> None:
    lms = MoodleGradebook(read_faults=[403])
    pid = scored(db, course, engine, redis_url)
    assert deliver(db, lms, pid) == "sent"
    assert reconcile(db, lms, now=datetime.now(UTC) + RECENT + timedelta(days=1)).checked == 0
    # A newer answer arrives: its score is pending and its own task sends it.
    scored(db, course, engine, redis_url, item=1)
    assert reconcile(db, lms).checked == 0
    assert row(db, pid).status == PassbackStatus.pending
