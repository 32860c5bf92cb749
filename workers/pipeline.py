"""Turn grade events into practice sets and gradebook scores: plain functions, no Celery.

Idempotency: a PracticeSet row is unique per event id, the event is marked processed in the
same transaction, and a student's state is always recomputed from the stored answers up to that
event (those after the student's resume point, with the point summarising the ones before:
`workers.resume_points`), so processing an event twice (redelivery, duplicate message, batch
overlap) stores and applies it once.
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
    ItemBank,
    PracticeSet,
    Skill,
)
from lti_tool.core.gradebook.policies import mastery_by_skill
from lti_tool.core.gradebook.records import record_score
from lti_tool.core.itembank.offered import offered_items
from lti_tool.core.practice import live as practice_cache
from lti_tool.core.practice import sets
from lti_tool.core.practice.page_state import Place, first_set, revision
from workers import metrics, resume_points
from workers.bank_cache import BankCache
from workers.engine_adapter import Answered, BankItem, Engine, Job, Plan, course_key

log = logging.getLogger("metis.pipeline")

PassbackSender = Callable[[int], None]  # ScorePassback.id -> queue


@dataclass
class Outcome:
    processed: list[str] = field(default_factory=list)  # stored by this call
    skipped: list[str] = field(default_factory=list)  # already processed (duplicates)
    passbacks: list[int] = field(default_factory=list)  # ScorePassback ids to send
    timings_ms: dict[str, float] = field(default_factory=dict)  # the batch's stages
    per_event_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # the engine's


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
    items = session.scalars(offered_items(bank_id).order_by(Item.id))
    rows = tuple(
        (BankItem(i.id, tuple(int(s) for s in i.skill_ids), i.text, i.difficulty_prior),
         i.category or "")
        for i in items
    )
    return tuple(b for b, _ in rows), {b.item_id: c for b, c in rows}


def _skill_names(session: Session, bank_id: int) -> dict[int, str]:
    rows = session.execute(select(Skill.id, Skill.name).where(Skill.bank_id == bank_id))
    return {int(k): str(n) for k, n in rows}


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


@dataclass(frozen=True)
class Pending:
    """A job and where its result goes: the student's current set (`set_id`), or, before their
    first set was stored, the first set's items to store (`first_items`)."""

    job: Job
    set_id: int | None
    first_items: list[dict[str, Any]] | None
    answer_id: int
    context_id: int = 0
    answer_ids: tuple[int, ...] = ()  # of the job's history, in its order


LoadedBank = tuple[tuple[BankItem, ...], dict[int, str]]


class _Banks:
    """The banks (items, categories, skill names) a batch needs, each read once, and not at
    all while the process's `cache` holds the bank at its current revision."""

    def __init__(self, session: Session, cache: BankCache[Any] | None = None) -> None:
        self.session = session
        self.cache: BankCache[Any] = cache if cache is not None else BankCache()
        self.items: dict[int, tuple[BankItem, ...]] = {}
        self.categories: dict[int, dict[int, str]] = {}
        self.names: dict[int, dict[int, str]] = {}
        self.revisions: dict[int, str | None] = {}

    def load(self, bank_id: int) -> None:
        if bank_id in self.items:
            return
        revision = self.session.scalar(select(ItemBank.revision).where(ItemBank.id == bank_id))
        self.revisions[bank_id] = revision
        self.items[bank_id], self.categories[bank_id] = self.cache.get(
            bank_id, revision, lambda: _bank_items(self.session, bank_id))
        # A renamed skill gives its bank a new revision too (lti_tool.core.db.revisions).
        self.names[bank_id] = self.cache.get(("names", bank_id), revision,
                                             lambda: _skill_names(self.session, bank_id))

    def candidates(self, bank_id: int, settings: ActivitySettings) -> tuple[BankItem, ...]:
        """`candidates` of the loaded bank, the same tuple again while the bank and the
        activity's choice stand (the engine keeps what it built from it)."""
        return self.cache.get(
            ("scope", bank_id, settings.skills, settings.categories), self.revisions[bank_id],
            lambda: candidates(self.items[bank_id], self.categories[bank_id], settings))


def course_history(session: Session, user_id: int, context_id: int,
                   upto_answer_id: int, after_answer_id: int = 0) -> list[tuple[int, Answered]]:
    """The student's answers in this course (every activity of the LMS course, each item with
    its own skills), oldest first, after `after_answer_id` up to and including
    `upto_answer_id`; with answer ids."""
    rows = session.execute(
        select(Answer.id, Answer.item_id, Item.skill_ids, Answer.correct, Answer.answered_at)
        .join(Item, Item.id == Answer.item_id)
        .join(Activity, Activity.id == Answer.activity_id)
        .where(Answer.user_id == user_id, Activity.context_id == context_id,
               Answer.id <= upto_answer_id, Answer.id > after_answer_id)
        .order_by(Answer.id)
    )
    return [(int(aid), Answered(int(item), tuple(int(k) for k in skills or ()), bool(ok), at))
            for aid, item, skills, ok, at in rows]


def build_job(session: Session, banks: _Banks, ev: GradeEvent, now: datetime,
              client: redis.Redis | None = None) -> Pending | None:
    activity = session.get(Activity, ev.activity_id)
    answer = session.get(Answer, ev.answer_id)
    if activity is None or answer is None:
        return None
    bank_id = activity.bank_id or 0
    banks.load(bank_id)
    settings = from_activity(activity)
    bank = banks.candidates(bank_id, settings)
    row = sets.set_at(session, ev.user_id, activity.id, upto_answer_id=answer.id)
    first_items = None
    if row is None:  # the student's first set, as the page showed it before any answer
        place = Place(activity.id, activity.bank_id, activity.title, settings)
        first_items = [{"item_id": i.id, "skills": list(i.skill_ids or [])}
                       for i in first_set(session, place)]
        row = PracticeSet(user_id=ev.user_id, activity_id=activity.id, items=first_items)
    valid = {b.item_id for b in banks.items[bank_id]}
    where = sets.progress_in(session, row, valid, upto_answer_id=answer.id,
                             tries=settings.tries)
    shown_fb = row.feedback or {}
    before = _at_start(shown_fb)
    # "Since your last set" compares with the student as they were when this set was
    # planned; a set stored without that mastery has the state then adapted again, which
    # needs the answers before the point too.
    point = resume_points.read(client, session, ev.user_id, activity.context_id, answer.id)
    if point is not None and before is None and where.started_after > 0:
        point = None
    after = point.upto if point is not None else 0
    history = course_history(session, ev.user_id, activity.context_id, answer.id, after)
    since = _answers_until(session, ev.user_id, activity.context_id, where.started_after,
                           point, history) or None
    job = Job(ev.event_id, tuple(a for _, a in history), bank, settings, now,
              banks.names[bank_id], course=course_key(ev.deployment_id),
              deployment_id=ev.deployment_id, student=str(ev.user_id), since=since,
              new_set=where.finished, shown=mastery_by_skill(shown_fb) or None,
              before=before, earlier=point.point if point is not None else None,
              earlier_n=point.n if point is not None else 0)
    return Pending(job, row.id, first_items, answer.id, activity.context_id,
                   tuple(aid for aid, _ in history))


def _answers_until(session: Session, user_id: int, context_id: int, answer_id: int,
                   point: resume_points.StoredPoint | None,
                   history: list[tuple[int, Answered]]) -> int:
    """How many of the student's answers in the course come up to `answer_id`, from what
    was read (the point and the answers after it) where that covers it."""
    if point is None:
        return sum(1 for aid, _ in history if aid <= answer_id)
    if answer_id >= point.upto:
        return point.n + sum(1 for aid, _ in history if aid <= answer_id)
    return resume_points.answers_upto(session, user_id, context_id, answer_id)


def _at_start(feedback: dict[str, Any]) -> dict[int, float] | None:
    """The mastery shown when the set was planned (stored with the set as "at_start")."""
    raw = feedback.get("at_start")
    if not isinstance(raw, dict):
        return None
    return mastery_by_skill({"skills": [{"skill": k, "mastery": v} for k, v in raw.items()]})


def build_jobs(session: Session, events: list[GradeEvent], now: datetime,
               client: redis.Redis | None = None, cache: BankCache[Any] | None = None
               ) -> list[Pending]:
    banks = _Banks(session, cache)
    return [p for ev in events if (p := build_job(session, banks, ev, now, client)) is not None]


def keep_points(client: redis.Redis | None, pairs: list[tuple[Pending, Plan]]) -> None:
    """Store the resume points the engine returned, named by the answer ids they cover."""
    for pending, plan in pairs:
        if plan.point is None:
            continue
        cut, point = plan.point
        if not 0 < cut <= len(pending.answer_ids):
            continue
        resume_points.write(client, int(pending.job.student), pending.context_id,
                            resume_points.StoredPoint(pending.answer_ids[cut - 1],
                                                      pending.job.earlier_n + cut, point))


@dataclass(frozen=True)
class Page:
    """What the open pages of a student in an activity are sent after a store: the set
    this event left current, as of answer `as_of_answer`."""

    user_id: int
    activity_id: int
    as_of_answer: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """One event's store: whether it was stored now (not already processed), the score to
    send, and the page update (None when a newer answer had already moved the set on)."""

    stored: bool
    passback_id: int | None = None
    page: Page | None = None


def _store(s: Session, pending: Pending, plan: Plan, version: str) -> Stored:
    event_id = pending.job.event_id
    ev = s.get(GradeEvent, event_id)
    if ev is None or ev.status == EventStatus.processed:
        return Stored(False)
    feedback = {**plan.feedback, "as_of_answer": pending.answer_id}
    version = plan.model_version or version
    current = s.get(PracticeSet, pending.set_id) if pending.set_id is not None else None
    if current is None and pending.first_items is not None:
        current = PracticeSet(user_id=ev.user_id, activity_id=ev.activity_id, event_id=None,
                              items=pending.first_items, feedback={}, model_version=version)
        s.add(current)
    shown: PracticeSet | None = None
    if pending.job.new_set and plan.items:  # finished: the next set starts after this answer
        # What the page shows as the new set starts: what its "since your last set" means.
        at_start = {str(k): v for k, v in mastery_by_skill(plan.feedback).items()}
        shown = PracticeSet(user_id=ev.user_id, activity_id=ev.activity_id, event_id=event_id,
                            items=plan.items, feedback={**feedback, "at_start": at_start},
                            timings_ms=plan.timings_ms, model_version=version)
        s.add(shown)
    elif current is not None and int((current.feedback or {}).get("as_of_answer", 0)
                                     ) <= pending.answer_id:
        # Same set, newer answer: only the mastery and feedback move.
        if "at_start" in (current.feedback or {}):
            feedback["at_start"] = current.feedback["at_start"]
        current.feedback = feedback
        current.timings_ms = plan.timings_ms
        current.model_version = version
        shown = current
    s.flush()  # the unique event_id makes a concurrent duplicate fail here
    s.execute(
        update(GradeEvent)
        .where(GradeEvent.event_id == event_id)
        .values(status=EventStatus.processed, processed_at=datetime.now(UTC), last_error=None)
    )
    row = record_score(s, ev, plan.feedback)
    # The page update is built here, from the rows just written, and sent after the commit:
    # reading the sets back afterwards cost a transaction and two queries per student.
    page = None if shown is None else Page(
        ev.user_id, ev.activity_id, pending.answer_id,
        page_payload(shown, ev.enqueued_at, event_id))
    return Stored(True, row.id if row is not None else None, page)


def store_plan(db: Database, pending: Pending, plan: Plan, version: str) -> Stored:
    """Store one event's result once."""
    try:
        with db.session() as s:
            return _store(s, pending, plan, version)
    except IntegrityError:
        return Stored(False)


def store_plans(db: Database, plans: list[tuple[Pending, Plan]], version: str) -> list[Stored]:
    """Store a batch in one transaction (one commit instead of one per event: the store stage
    dominated under load). If another worker stored one of them meanwhile, the whole batch
    rolls back and is stored event by event, each idempotent."""
    try:
        with db.session() as s:
            return [_store(s, pending, plan, version) for pending, plan in plans]
    except IntegrityError:
        return [store_plan(db, pending, plan, version) for pending, plan in plans]


def page_payload(ps: PracticeSet, queued_at: datetime | None,
                 as_of_event: str | None = None) -> dict[str, Any]:
    """What an open page is sent: the set (planned after answer `event_id`), its feedback as
    of the answer `as_of_event` (the newest this batch processed)."""
    return {
        "event_id": ps.event_id,
        "as_of_event": as_of_event,
        "set_id": ps.id,
        "revision": revision(ps),
        "items": ps.items,
        "feedback": ps.feedback,
        "model_version": ps.model_version,
        "timings_ms": ps.timings_ms,
        "queued_at": queued_at.isoformat() if queued_at else None,
    }


def publish(client: redis.Redis, pages: list[Page]) -> None:
    """Tell open pages about the set each stored event left current, the newest answer of
    each student first (the cache keeps the newest: `practice_cache.publish`)."""
    seen: set[tuple[int, int]] = set()
    for page in sorted(pages, key=lambda p: -p.as_of_answer):
        key = (page.user_id, page.activity_id)
        if key not in seen:
            seen.add(key)
            practice_cache.publish(client, page.user_id, page.activity_id, page.payload,
                                   page.as_of_answer)


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
        own = {f"event_{k}": v for k, v in out.per_event_ms.get(event_id, {}).items()}
        pipe.hset(key, mapping={"started_at": started_at, "batch": batch,
                                **{k: round(v, 3) for k, v in {**out.timings_ms, **own}.items()}})
        pipe.expire(key, TIMINGS_TTL_S)
    pipe.execute()


def rounds(events: list[GradeEvent]) -> list[list[GradeEvent]]:
    """The batch in rounds with at most one event per student and activity, in answer order:
    whether an answer finishes a set depends on the sets the earlier answers stored."""
    out: list[list[GradeEvent]] = []
    depth: dict[tuple[int, int], int] = {}
    for ev in sorted(events, key=lambda e: e.answer_id):
        n = depth.get((ev.user_id, ev.activity_id), 0)
        depth[(ev.user_id, ev.activity_id)] = n + 1
        if n == len(out):
            out.append([])
        out[n].append(ev)
    return out


def process_events(
    db: Database,
    client: redis.Redis,
    engine: Engine,
    event_ids: list[str],
    *,
    now: datetime | None = None,
    banks: BankCache[Any] | None = None,
) -> Outcome:
    """Adapt, select and store for a batch of events, then publish. Safe to call again.
    `banks`: the process's loaded banks (workers.bank_cache), kept across batches."""
    now = now or datetime.now(UTC)
    out = Outcome()
    t0 = time.perf_counter()
    load_ms = engine_ms = store_ms = 0.0
    batches: list[list[GradeEvent]] = []
    pages: list[Page] = []
    n = 0
    while n == 0 or n < len(batches):
        t1 = time.perf_counter()
        with db.session() as s:
            if n == 0:  # the events are read in the session that builds the first round
                batches = rounds(unprocessed(s, event_ids))
                fresh = batches[0] if batches else []
            else:  # a later round sees what the earlier ones stored
                fresh = [ev for ev in (s.get(GradeEvent, e.event_id) for e in batches[n])
                         if ev is not None and ev.status != EventStatus.processed]
            pending = build_jobs(s, fresh, now, client, banks)
        t2 = time.perf_counter()
        plans = engine.plan_batch([p.job for p in pending]) if pending else []
        t3 = time.perf_counter()
        pairs = list(zip(pending, plans, strict=True))
        keep_points(client, pairs)
        for p, plan in pairs:
            out.per_event_ms[p.job.event_id] = dict(plan.timings_ms)
        results = store_plans(db, pairs, engine.version)
        for (p, _plan), res in zip(pairs, results, strict=True):
            (out.processed if res.stored else out.skipped).append(p.job.event_id)
            if res.passback_id is not None and res.passback_id not in out.passbacks:
                out.passbacks.append(res.passback_id)  # two answers of one student: one task
        pages += [r.page for r in results if r.page is not None]
        load_ms += t2 - (t0 if n == 0 else t1)
        engine_ms += t3 - t2
        store_ms += time.perf_counter() - t3
        n += 1
    done = set(out.processed) | set(out.skipped)
    out.skipped += [e for e in event_ids if e not in done]
    t5 = time.perf_counter()
    publish(client, pages)  # once per student, their newest: later rounds supersede earlier
    out.timings_ms = {"load": load_ms * 1000, "engine": engine_ms * 1000,
                      "store": store_ms * 1000, "publish": (time.perf_counter() - t5) * 1000}
    metrics.observe_batch(event_ids, out, (ev for b in batches for ev in b))
    return out
