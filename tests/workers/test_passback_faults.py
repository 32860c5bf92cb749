"""Scores reach the demo platform's gradebook through a real worker, through LMS faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from lti_tool.core.answers.submit import submit
from lti_tool.core.db.models import PassbackStatus, ScorePassback
from lti_tool.task_queue import ADAPT_TASK, PASSBACK_TASK, create_celery
from tests.support.course import seed_course
from tests.support.lti_world import LtiWorld
from tests.support.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.slow


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_scores_survive_500_timeout_and_429(lti_world: LtiWorld, tmp_path: Path) -> None:
    store, db = lti_world.store, lti_world.db
    item = store.add_lineitem("Practice", 10.0)
    lineitem_url = f"{store.issuer}/ags/{store.context_id}/lineitems/{item.id}/lineitem?type_id=1"
    course = seed_course(db, platform_id=lti_world.platform_pk, lineitem_url=lineitem_url)
    celery = create_celery(lti_world.settings)

    def send(event_id: str) -> None:
        celery.send_task(ADAPT_TASK, args=[event_id], retry=False)

    env = worker_env(lti_world.settings.effective_database_url, lti_world.settings.redis_url,
                     tmp_path, METIS_OUTBOUND_TIMEOUT_S="1",
                     REQUESTS_CA_BUNDLE=str(lti_world.cert))
    store.inject_score_faults(["500", "hang", "429"], hang_s=2.0)
    try:
        with WorkerProcess(env, tmp_path / "worker.log"):
            submit(db, course.learner(0), course.item_ids[0], {"choice": "0"}, send)
            submit(db, course.learner(0), course.item_ids[1], {"choice": "1"}, send)

            def settled() -> bool:
                with db.session() as s:
                    row = s.scalars(select(ScorePassback)).first()
                    return row is not None and row.status == PassbackStatus.verified \
                        and row.score_given == pytest.approx(5.0)

            wait_until(settled)
            result = item.results["101"]
            assert result.result_score == pytest.approx(5.0)  # 1 of 2 right, out of 10
            # The same score again (a duplicate task, a teacher's resend): stamped afresh, it
            # is accepted, or refused (409) within the second the LMS graded it and read back;
            # either way it ends verified and the LMS keeps 5 of 10.
            with db.session() as s:
                row = s.scalars(select(ScorePassback)).one()
                row.status = PassbackStatus.pending
                pid, posts = row.id, len(store.score_posts)
            celery.send_task(PASSBACK_TASK, args=[pid], retry=False)

            def verified_again() -> bool:
                with db.session() as s:
                    r = s.get(ScorePassback, pid)
                    return r is not None and r.status == PassbackStatus.verified

            wait_until(verified_again)
            assert len(store.score_posts) == posts + 1  # one post: nothing to repair
            assert item.results["101"].result_score == pytest.approx(5.0)
    finally:
        celery.close()
