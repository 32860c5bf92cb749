"""Scores that hold in a real Moodle: the demo platform stores the time it *processed* a score
and refuses (409) any later score whose timestamp is not newer than that. A student answers
again while the first score is still held at the LMS; the gradebook must end with the newest
score, and Metis must say so only once it has read the result back."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from lti_tool.core.answers.submit import submit
from lti_tool.core.db.models import Answer, PassbackStatus, ScorePassback
from lti_tool.task_queue import ADAPT_TASK, RECONCILE_TASK, create_celery
from tests.support.course import seed_course
from tests.support.lti_world import LtiWorld
from tests.support.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.slow

FINAL = (PassbackStatus.verified, PassbackStatus.sent, PassbackStatus.mismatch,
         PassbackStatus.failed)


def wait_until(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_answer_twice_while_the_first_score_is_held(lti_world: LtiWorld, tmp_path: Path) -> None:
    store, db = lti_world.store, lti_world.db
    item = store.add_lineitem("Practice", 10.0)
    lineitem_url = f"{store.issuer}/ags/{store.context_id}/lineitems/{item.id}/lineitem?type_id=1"
    course = seed_course(db, platform_id=lti_world.platform_pk, lineitem_url=lineitem_url)
    celery = create_celery(lti_world.settings)

    def send(event_id: str) -> None:
        celery.send_task(ADAPT_TASK, args=[event_id], retry=False)

    # One worker process: while it waits on the held score, the second answer queues behind it,
    # as it does behind a busy worker.
    env = worker_env(lti_world.settings.effective_database_url, lti_world.settings.redis_url,
                     tmp_path, METIS_OUTBOUND_TIMEOUT_S="60",
                     REQUESTS_CA_BUNDLE=str(lti_world.cert))
    store.hold_scores(1)
    try:
        with WorkerProcess(env, tmp_path / "worker.log"):
            submit(db, course.learner(0), course.item_ids[0], {"choice": "0"}, send)  # right
            wait_until(lambda: store.held == 1)  # the first score (10/10) is at the LMS, held
            second = submit(db, course.learner(0), course.item_ids[1], {"choice": "1"}, send)
            with db.session() as s:
                answered = s.get(Answer, second.answer_id)
                assert answered is not None
                answered_s = math.floor(answered.answered_at.timestamp())
            # The LMS gets to the held score only after the second answer's second has passed,
            # so it stamps that grade later than the second answer was given.
            wait_until(lambda: store.now_s() > answered_s + 1)
            store.release_scores()

            def settled() -> bool:
                with db.session() as s:
                    row = s.scalars(select(ScorePassback)).first()
                    return row is not None and row.event_id == second.event_id \
                        and row.status in FINAL
            wait_until(settled)
            with db.session() as s:
                row = s.scalars(select(ScorePassback)).one()
            # Metis computed 5/10 (1 of 2 right); the LMS must hold that, and Metis must know it.
            assert row.score_given == pytest.approx(5.0)
            assert item.results["101"].result_score == pytest.approx(5.0), \
                f"the LMS kept {item.results['101'].result_score} while Metis says " \
                f"{row.score_given} {row.status}"
            assert row.status == PassbackStatus.verified
            # Two scores were refused at most once each, then sent with a fresh timestamp.
            stamps = [p["timestamp"] for p in store.score_posts]
            assert len(stamps) <= 4 and stamps == sorted(stamps)

            # Later the LMS loses the grade (a restored backup): the periodic reconciliation
            # reads it back and sends the score again.
            with store.lock:
                item.results.clear()
            with db.session() as s:
                s.execute(update(ScorePassback).where(ScorePassback.id == row.id)
                          .values(checked_at=datetime.now(UTC) - timedelta(days=1)))
            celery.send_task(RECONCILE_TASK, retry=False)

            def repaired() -> bool:
                with db.session() as s:
                    r = s.get(ScorePassback, row.id)
                    return r is not None and r.status == PassbackStatus.verified \
                        and r.repairs == 1 and "101" in item.results
            wait_until(repaired)
            assert item.results["101"].result_score == pytest.approx(5.0)
    finally:
        store.release_scores()
        celery.close()
