"""Turn grade events into practice sets and gradebook scores: plain functions, no Celery.

Idempotency: a PracticeSet row is unique per event id, the event is marked processed in the
same transaction, and a student's state is always recomputed from the stored answers up to that
event, so processing an event twice (redelivery, duplicate message, batch overlap) stores and
applies it once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.core import redis_keys
from lti_tool.core.activities import ActivitySettings, from_activity
from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    Answer,
    EventStatus,
    GradeEvent,
    Item,
    PracticeSet,
    Skill,
)
from lti_tool.core.gradebook.records import record_score
from lti_tool.core.practice import live as practice_cache
from workers.engine_adapter import Answered, BankItem, Engine, Job, Plan

log = logging.getLogger("metis.pipeline")

PassbackSender = Callable[[int], None]  # ScorePassback.id -> queue


@dataclass
class Outcome:
    processed: list[str] = field(default_factory=list)  # stored by this call
    skipped: list[str] = field(default_factory=list)  # already processed (duplicates)
    passbacks: list[int] = field(default_factory=list)  # ScorePassback ids to send
    timings_ms: dict[str, float] = field(default_factory=dict)


def unprocessed(session: Session, event_ids: list[str]) -> list[GradeEvent]:
    rows = session.scalars(
        select(GradeEvent).where(
            GradeEvent.event_id.in_(event_ids), GradeEvent.status != EventStatus.processed
        )
    )
    order = {e: n for n, e in enumerate(event_ids)}
    return sorted(rows, key=lambda r: order[r.event_id])


def _bank_items(session: Session, bank_id: int) -> tuple[tuple[BankItem, ...], dict[int, str]]:
    """A bank's items in id order, each with its category kept for the activity's filter."""
    items = session.scalars(select(Item).where(Item.bank_id == bank_id).order_by(Item.id))
    rows = tuple(
        (BankItem(i.id, tuple(int(s) for s in i.skill_ids), i.text, i.difficulty_prior),
         i.category or "")
        for i in items
    )
    return tuple(b for b, _ in rows), {b.item_id: c for b, c in rows}


def candidates(
    bank: tuple[BankItem, ...], categories_of: dict[int, str], settings: ActivitySettings
) -> tuple[BankItem, ...]:
    """The items a practice set may draw from: the bank narrowed to the activity's chosen
    skills and categories (`ActivitySettings.in_scope`). When the choice leaves nothing (the
    bank changed since), the whole bank, so that students are never stuck."""
    if not settings.skills and not settings.categories:
        return bank
    narrowed = tuple(
        b for b in bank if settings.in_scope(b.skill_ids, categories_of.get(b.item_id, ""))
    )
    if not narrowed:
        log.warning("activity settings select no item of the bank; using the whole bank")
        return bank
    return narrowed


def build_jobs(session: Session, events: list[GradeEvent], now: datetime) -> list[Job]:
    banks: dict[int, tuple[BankItem, ...]] = {}
    categories: dict[int, dict[int, str]] = {}
    names: dict[int, dict[int, str]] = {}
    jobs: list[Job] = []
    for ev in events:
        activity = session.get(Activity, ev.activity_id)
        answer = session.get(Answer, ev.answer_id)
        if activity is None or answer is None:
            continue
        bank_id = activity.bank_id or 0
        if bank_id not in banks:
            banks[bank_id], categories[bank_id] = _bank_items(session, bank_id)
            skill_rows = session.execute(
                select(Skill.id, Skill.name).where(Skill.bank_id == bank_id)
            )
            names[bank_id] = {int(k): str(n) for k, n in skill_rows}
        # Skills of answered items come from the whole bank: an answer given before the
        # teacher narrowed the activity still tells the model about its skills.
        skills = {b.item_id: b.skill_ids for b in banks[bank_id]}
        rows = session.execute(
            select(Answer.item_id, Answer.correct, Answer.answered_at)
            .where(
                Answer.user_id == ev.user_id,
                Answer.activity_id == ev.activity_id,
                Answer.id <= answer.id,
            )
            .order_by(Answer.id)
        )
        history = tuple(
            Answered(item_id, skills.get(item_id, ()), bool(correct), at)
            for item_id, correct, at in rows
        )
        settings = from_activity(activity)
        bank = candidates(banks[bank_id], categories[bank_id], settings)
        jobs.append(Job(ev.event_id, history, bank, settings, now,
                        names[bank_id], bank_id=bank_id))
    return jobs


def _store(s: Session, event_id: str, plan: Plan, version: str) -> tuple[bool, int | None]:
    ev = s.get(GradeEvent, event_id)
    if ev is None or ev.status == EventStatus.processed:
        return False, None
    s.add(
        PracticeSet(
            user_id=ev.user_id,
            activity_id=ev.activity_id,
            event_id=event_id,
            items=plan.items,
            feedback=plan.feedback,
            timings_ms=plan.timings_ms,
            model_version=version,
        )
    )
    s.flush()  # the unique event_id makes a concurrent duplicate fail here
    now = datetime.now(UTC)
    s.execute(
        update(GradeEvent)
        .where(GradeEvent.event_id == event_id)
        .values(status=EventStatus.processed, processed_at=now, last_error=None)
    )
    row = record_score(s, ev)
    return True, (row.id if row is not None else None)


def store_plan(db: Database, event_id: str, plan: Plan, version: str) -> tuple[bool, int | None]:
    """Store one event's result once. Returns (stored now, ScorePassback id to send)."""
    try:
        with db.session() as s:
            return _store(s, event_id, plan, version)
    except IntegrityError:
        return False, None


def store_plans(
    db: Database, plans: list[tuple[str, Plan]], version: str
) -> list[tuple[bool, int | None]]:
    """Store a batch in one transaction (one commit instead of one per event: the store stage
    dominated under load). If another worker stored one of them meanwhile, the whole batch
    rolls back and is stored event by event, each idempotent."""
    try:
        with db.session() as s:
            return [_store(s, event_id, plan, version) for event_id, plan in plans]
    except IntegrityError:
        return [store_plan(db, event_id, plan, version) for event_id, plan in plans]


def latest_event(session: Session, user_id: int, activity_id: int) -> str | None:
    return session.scalar(
        select(Answer.event_id)
        .where(Answer.user_id == user_id, Answer.activity_id == activity_id)
        .order_by(Answer.id.desc())
        .limit(1)
    )


def page_payload(ps: PracticeSet, queued_at: datetime | None) -> dict[str, Any]:
    return {
        "event_id": ps.event_id,
        "set_id": ps.id,
        "items": ps.items,
        "feedback": ps.feedback,
        "model_version": ps.model_version,
        "timings_ms": ps.timings_ms,
        "queued_at": queued_at.isoformat() if queued_at else None,
    }


def publish_latest(db: Database, client: redis.Redis, event_ids: list[str]) -> None:
    """Tell open pages about the newest set of each student touched by this batch."""
    with db.session() as s:
        seen: set[tuple[int, int]] = set()
        for ps in s.scalars(
            select(PracticeSet).where(PracticeSet.event_id.in_(event_ids)).order_by(
                PracticeSet.id.desc())
        ):
            key = (ps.user_id, ps.activity_id)
            if key in seen or latest_event(s, *key) != ps.event_id:
                continue
            seen.add(key)
            ev = s.get(GradeEvent, ps.event_id)
            practice_cache.publish(
                client, ps.user_id, ps.activity_id,
                page_payload(ps, ev.enqueued_at if ev else None),
            )


TIMINGS_KEY = redis_keys.TIMINGS
TIMINGS_TTL_S = 3600


def record_timings(client: redis.Redis, out: Outcome, started_at: float, batch: int) -> None:
    """Per event, where its time went in the worker (read by `metis bench pipeline`): one
    pipelined write per batch, kept an hour."""
    if not out.processed:
        return
    pipe = client.pipeline(transaction=False)
    for event_id in out.processed:
        key = TIMINGS_KEY.format(event=event_id)
        pipe.hset(key, mapping={"started_at": started_at, "batch": batch,
                                **{k: round(v, 3) for k, v in out.timings_ms.items()}})
        pipe.expire(key, TIMINGS_TTL_S)
    pipe.execute()


def process_events(
    db: Database,
    client: redis.Redis,
    engine: Engine,
    event_ids: list[str],
    *,
    now: datetime | None = None,
) -> Outcome:
    """Adapt, select and store for a batch of events, then publish. Safe to call again."""
    now = now or datetime.now(UTC)
    out = Outcome()
    t0 = time.perf_counter()
    with db.session() as s:
        events = unprocessed(s, event_ids)
        jobs = build_jobs(s, events, now)
    todo = {j.event_id for j in jobs}
    out.skipped = [e for e in event_ids if e not in todo]
    if not jobs:
        return out
    t1 = time.perf_counter()
    plans = engine.plan_batch(jobs)
    t2 = time.perf_counter()
    pairs = [(job.event_id, plan) for job, plan in zip(jobs, plans, strict=True)]
    for (event_id, _plan), (stored, passback_id) in zip(
        pairs, store_plans(db, pairs, engine.version), strict=True
    ):
        (out.processed if stored else out.skipped).append(event_id)
        if passback_id is not None and passback_id not in out.passbacks:
            out.passbacks.append(passback_id)  # two answers of one student: one row, one task
    t3 = time.perf_counter()
    if out.processed:
        publish_latest(db, client, out.processed)
    t4 = time.perf_counter()
    out.timings_ms = {
        "load": (t1 - t0) * 1000,
        "engine": (t2 - t1) * 1000,
        "store": (t3 - t2) * 1000,
        "publish": (t4 - t3) * 1000,
    }
    return out
