"""The Celery tasks: thin wrappers that read ids, call plain functions and route follow-ups."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery, Task
from redis import RedisError

from lti_tool.core import worker_status
from lti_tool.core.gradebook.records import give_up
from lti_tool.core.outbox import relay
from lti_tool.lms.tokens import TransientServiceError
from lti_tool.task_queue import (
    ADAPT_TASK,
    PASSBACK_TASK,
    RECONCILE_TASK,
    RELAY_TASK,
    RETRAIN_TASK,
)
from workers import batching, maintenance
from workers.passback import LmsPoster, backoff_s, deliver
from workers.pipeline import process_events, record_timings
from workers.process import current
from workers.reconcile import reconcile

log = logging.getLogger("metis.tasks")

PASSBACK_MAX_RETRIES = 8


def register(app: Celery) -> None:
    @app.task(name=ADAPT_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def adapt(self: Task, event_id: str) -> dict[str, Any]:
        rt = current()
        started_at = time.time()
        owner = str(self.request.id)
        batch = batching.collect(
            rt.db, rt.redis, event_id, owner,
            max_size=rt.settings.adapt_batch_max, wait_ms=rt.settings.adapt_batch_wait_ms,
        )
        try:
            outcome = process_events(rt.db, rt.redis, rt.engine(), batch, banks=rt.banks)
        finally:
            batching.release(rt.redis, batch, owner)
        try:
            record_timings(rt.redis, outcome, started_at, len(batch))
            worker_status.renew(rt.redis, rt.name)
        except RedisError:
            log.warning("stage timings not recorded (Redis unavailable)")
        for passback_id in outcome.passbacks:
            app.send_task(PASSBACK_TASK, args=[passback_id])
        return {"batch": len(batch), "processed": len(outcome.processed)}

    @app.task(name=PASSBACK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
              max_retries=PASSBACK_MAX_RETRIES)
    def passback(self: Task, passback_id: int) -> str:
        rt = current()
        try:
            return deliver(rt.db, LmsPoster(rt.db, rt.redis, rt.settings), passback_id)
        except TransientServiceError as exc:
            if self.request.retries >= PASSBACK_MAX_RETRIES:
                give_up(rt.db, passback_id, f"gave up after {self.request.retries} retries: {exc}")
                return "failed"
            raise self.retry(countdown=backoff_s(self.request.retries), exc=exc) from None

    @app.task(name=RELAY_TASK)
    def relay_outbox() -> int:
        rt = current()

        def send(event_id: str) -> None:
            app.send_task(ADAPT_TASK, args=[event_id])

        sent = relay(rt.db, send)
        for passback_id in maintenance.stale_passbacks(rt.db):
            app.send_task(PASSBACK_TASK, args=[passback_id])
        return sent

    @app.task(name=RECONCILE_TASK)
    def reconcile_scores() -> dict[str, int]:
        rt = current()
        report = reconcile(rt.db, LmsPoster(rt.db, rt.redis, rt.settings))
        for passback_id in report.resend:
            app.send_task(PASSBACK_TASK, args=[passback_id])
        return {"checked": report.checked, "verified": report.verified,
                "mismatched": report.mismatched, "resent": len(report.resend),
                "unreadable": report.unreadable}

    @app.task(name=RETRAIN_TASK, acks_late=True)
    def retrain() -> list[dict[str, Any]]:
        rt = current()
        return maintenance.retrain_all(rt)
