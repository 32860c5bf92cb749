"""The pipeline with the real meta_engine (the built-in default model): our Item and Skill ids
survive the trip through the model's vocabulary, and the model is trained once then loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Item, PracticeSet
from tests.support.course import Course
from workers.engine_adapter import MetaEngine, load_engine
from workers.pipeline import process_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_real_engine_plans_with_our_ids(
    db: Database, course: Course, redis_url: str, models_dir: Path
) -> None:
    engine = load_engine(None, "cpu", "default", default_dir=models_dir)
    assert isinstance(engine, MetaEngine)
    client = redis.Redis.from_url(redis_url)
    events = [
        store_answer(db, course.learner(0), course.item_ids[n], {"choice": "0" if n else "1"})
        .event_id for n in range(3)
    ]
    out = process_events(db, client, engine, events)
    assert sorted(out.processed) == sorted(events)
    with db.session() as s:
        skills = {i.id: list(i.skill_ids) for i in s.scalars(select(Item))}
        latest = s.scalars(select(PracticeSet).where(PracticeSet.event_id == events[-1])).one()
        plan, feedback = latest.items, latest.feedback
    assert len(plan) == 3  # the activity's set_size
    for row in plan:
        assert row["item_id"] in course.item_ids  # DB ids, not the model's vocabulary
        assert row["skills"] == skills[row["item_id"]]
        assert 0.0 < row["p_correct"] < 1.0 and row["why"]
    practised = {k for i in course.item_ids[:3] for k in skills[i]}
    assert {r["skill"] for r in feedback["skills"]} == practised
    assert {r["name"] for r in feedback["skills"]} <= {"skill 0", "skill 1", "skill 2"}
    assert feedback["summary"] and "practise skill " in feedback["next_step"]


def test_default_model_is_trained_once_then_loaded(models_dir: Path) -> None:
    load_engine(None, "cpu", "default", default_dir=models_dir)  # trained (or cached) here
    assert (models_dir / "default-model" / "LATEST").exists()
    t0 = time.perf_counter()
    engine = load_engine(None, "cpu", "default", default_dir=models_dir)
    assert time.perf_counter() - t0 < 5.0  # a load, not another training run
    assert isinstance(engine, MetaEngine) and engine.model.card.get("version")
