"""The pipeline with the real meta_engine (the shipped default core): our own Item and Skill ids
all the way (no folding onto a model's slots), the course's tables in Redis, fitted once per
event, sets kept until finished, and each deployment served by its own model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from lti_tool.core import worker_status
from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Item, ModelStatus, ModelVersion, PracticeSet, Skill
from lti_tool.core.model_versions import promote
from lti_tool.settings import Settings
from tests.support.course import Course, seed_course
from workers.engine_adapter import MetaEngine, course_key
from workers.pipeline import process_events
from workers.process import Runtime, init_process, make_engine
from workers.table_store import RedisTableStore

pytestmark = pytest.mark.slow


def runtime(settings: Settings, db: Database, redis_url: str) -> Runtime:
    return Runtime(settings=settings, db=db, redis=redis.Redis.from_url(redis_url))


def test_sets_are_kept_until_finished_with_our_ids(
    settings: Settings, db: Database, course: Course, redis_url: str
) -> None:
    rt = runtime(settings, db, redis_url)
    engine = rt.engine()
    assert isinstance(engine, MetaEngine)
    first_two = [store_answer(db, course.learner(0), course.item_ids[n], {"choice": "1"})
                 .event_id for n in range(2)]
    assert sorted(process_events(db, rt.redis, engine, first_two).processed) == sorted(first_two)
    with db.session() as s:
        rows = list(s.scalars(select(PracticeSet).order_by(PracticeSet.id)))
        # Two of the first set's three questions answered: still the first set, new feedback.
        assert len(rows) == 1 and rows[0].event_id is None
        assert [e["item_id"] for e in rows[0].items] == course.item_ids[:3]
        assert rows[0].feedback["as_of_answer"] > 0 and rows[0].feedback["skills"]
    last = store_answer(db, course.learner(0), course.item_ids[2], {"choice": "0"}).event_id
    assert process_events(db, rt.redis, engine, [last]).processed == [last]
    with db.session() as s:
        skills = {i.id: list(i.skill_ids) for i in s.scalars(select(Item))}
        names = {k.id: k.name for k in s.scalars(select(Skill))}
        nxt = s.scalars(select(PracticeSet).where(PracticeSet.event_id == last)).one()
    assert len(nxt.items) == 3  # the activity's set_size
    for row in nxt.items:
        assert row["item_id"] in course.item_ids  # our ids, not a model vocabulary
        assert row["skills"] == skills[row["item_id"]]
        assert row["detail"]["skill_names"] == [names[k] for k in row["skills"]]
        assert 0.0 < row["p_correct"] < 1.0 and row["why"]
    practised = {k for i in course.item_ids[:3] for k in skills[i]}
    assert {r["skill"] for r in nxt.feedback["skills"]} == practised
    assert {r["name"] for r in nxt.feedback["skills"]} == {names[k] for k in practised}
    # "Since your last set": compared with the student before the first set (no answers).
    assert nxt.feedback["detail"]["compared"] is False


def test_course_tables_learn_once_per_event_in_our_ids(
    settings: Settings, db: Database, course: Course, redis_url: str
) -> None:
    rt = runtime(settings, db, redis_url)
    engine = rt.engine()
    events = [store_answer(db, course.learner(n % 2), course.item_ids[n % 3],
                           {"choice": "0"}).event_id for n in range(4)]
    process_events(db, rt.redis, engine, events)
    store = RedisTableStore(rt.redis)
    key = (rt.default_model().version, course_key(course.deployment_id))
    learned = store.load(key)
    with db.session() as s:
        ours = {int(k) for i in s.scalars(select(Item)) for k in i.skill_ids}
    assert set(learned.entries["item"]) == set(course.item_ids[:3])
    assert set(learned.entries["skill"]) <= ours and learned.entries["skill"]
    answers = sum(int(v[2]) for v in learned.entries["item"].values())
    assert answers == 4
    # A redelivered event (the updates computed again) is not folded in twice.
    from meta_engine.model.tables import TableUpdate

    again = [TableUpdate(events[0], "item", course.item_ids[0], 1.0, 1.0)]
    assert store.apply(key, again) == 0
    assert store.load(key).entries["item"] == learned.entries["item"]
    # Another deployment's course starts from priors.
    assert not store.load((key[0], course_key(course.deployment_id + 1))).entries["item"]


def test_a_deployments_model_never_serves_another(
    settings: Settings, db: Database, redis_url: str, tmp_path: Path
) -> None:
    from meta_engine import api

    a = seed_course(db)
    with db.session() as s:
        other = Deployment(platform_id=a.platform_id, deployment_id="another-d2", active=True)
        s.add(other)
        s.flush()
        b_deployment = other.id
    path = api.save_model(api.default_model(), str(tmp_path / "models"),
                          {"course": course_key(a.deployment_id), "version": "dep-a"})
    with db.session() as s:
        s.add(ModelVersion(version="dep-a", path=path, deployment_id=a.deployment_id,
                           status=ModelStatus.candidate))
    rt = runtime(settings, db, redis_url)
    promote(db, rt.redis, "dep-a")
    rt.refresh()
    assert rt.model_for(a.deployment_id).version == "dep-a"
    assert rt.model_for(b_deployment).version == rt.default_model().version
    # Even announced for every deployment by mistake, a course model stays with its course.
    rt._active["*"] = "dep-a"
    assert rt.model_for(b_deployment).version == rt.default_model().version


def test_the_model_is_loaded_when_the_worker_process_starts(
    settings: Settings, db: Database, redis_url: str
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    t0 = time.perf_counter()
    rt = init_process(settings)
    took = time.perf_counter() - t0
    ready = worker_status.ready_workers(rt.redis)
    assert [w.name for w in ready] == [rt.name]
    assert ready[0].model == rt.default_model().version and ready[0].device == "cpu"
    assert took < 60.0  # a load (milliseconds here), never a training run
    assert make_engine(rt).version == ready[0].model
