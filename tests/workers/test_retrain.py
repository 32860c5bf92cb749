"""The periodic retrain: a candidate meta-trained on a deployment's stored answers is promoted
only when its held-out AUC is no worse than the active model's on the same students."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Answer,
    EventStatus,
    GradeEvent,
    Item,
    ModelStatus,
    ModelVersion,
    Skill,
)
from lti_tool.core.model_versions import ACTIVE_MODEL_KEY
from lti_tool.settings import Settings
from tests.support.course import Course, seed_course
from workers.engine_adapter import MetaEngine
from workers.maintenance import retrain_deployment
from workers.process import Runtime

pytestmark = pytest.mark.slow

FAST = {"max_epochs": 3, "patience": 2, "max_minutes": 0.3}


def simulated_course(db: Database) -> Course:
    """60 simulated students' answers, stored as the app stores them (answer + grade event)."""
    from meta_engine.data import simulate_students

    sim = simulate_students(60, 30, 3, seed=3)
    course = seed_course(db, students=60, items=30)
    with db.session() as s:
        skills = [k.id for k in s.scalars(select(Skill).order_by(Skill.id))][-3:]
        for n, item_id in enumerate(course.item_ids, start=1):
            item = s.get(Item, item_id)
            assert item is not None
            item.skill_ids = [skills[k - 1] for k in sim.item_skills.get(n, (1,))]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for user_id, seq in zip(course.user_ids, sim.sequences, strict=True):
            answers = [Answer(user_id=user_id, activity_id=course.activity_id,
                              item_id=course.item_ids[int(seq.items[t]) - 1], response={},
                              correct=bool(seq.correct[t]),
                              answered_at=start + timedelta(minutes=t))
                       for t in range(len(seq))]
            s.add_all(answers)
            s.flush()
            s.add_all(GradeEvent(event_id=str(uuid.uuid4()), answer_id=a.id, user_id=user_id,
                                 activity_id=course.activity_id,
                                 deployment_id=course.deployment_id,
                                 status=EventStatus.processed) for a in answers)
    return course


def runtime(settings: Settings, db: Database, redis_url: str, engine: MetaEngine) -> Runtime:
    """A worker runtime whose active model is `engine` (announced in Redis, so no load)."""
    client = redis.Redis.from_url(redis_url)
    client.set(ACTIVE_MODEL_KEY, engine.version)
    return Runtime(settings=settings, db=db, redis=client, _engine=engine)


def untrained(course_items: int, skills: int) -> MetaEngine:
    """A network with all weights zero that cannot adapt to a student (no inner steps): it
    predicts the same for every answer (AUC 0.5), so any candidate that learned beats it."""
    import torch

    from meta_engine.api import Model
    from meta_engine.model.student import MetisConfig, MetisNet

    net = MetisNet(MetisConfig(n_items=course_items, n_skills=skills, inner_steps=0)).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    return MetaEngine(Model(net, net.calib_a.device, {}, "untrained"), "untrained")


def test_promoted_when_better_then_a_worse_candidate_is_rejected(
    settings: Settings, db: Database, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"data_dir": tmp_path})
    course = simulated_course(db)
    with db.session() as s:
        max_item = max(course.item_ids)
        max_skill = max(int(k) for i in s.scalars(select(Item)) for k in i.skill_ids)
    rt = runtime(settings, db, redis_url, untrained(max_item, max_skill))

    first = retrain_deployment(rt, course.deployment_id, **FAST)
    assert first["promoted"] is True, first
    assert first["active_auc_same_students"] == pytest.approx(0.5), first  # the premise
    assert first["valid_auc"] >= first["active_auc_same_students"]
    assert first["valid_auc"] > 0.6  # it learned from the simulated answers
    with db.session() as s:
        row = s.scalars(select(ModelVersion).where(ModelVersion.version == first["version"])).one()
        assert row.status == ModelStatus.active and row.deployment_id == course.deployment_id
        assert row.metrics["answers"] == first["answers"]
    assert rt.redis.get(ACTIVE_MODEL_KEY) == first["version"].encode()
    assert rt.engine().version == first["version"]  # the worker picks the promotion up

    # A candidate that cannot learn (learning rate 0) scores worse than the promoted model.
    second = retrain_deployment(rt, course.deployment_id, **{**FAST, "lr": 0.0, "max_epochs": 1})
    assert second["promoted"] is False, second
    assert second["valid_auc"] < second["active_auc_same_students"]
    with db.session() as s:
        statuses = {v.version: v.status for v in s.scalars(select(ModelVersion))}
    assert statuses == {first["version"]: ModelStatus.active,
                        second["version"]: ModelStatus.rejected}
    assert rt.redis.get(ACTIVE_MODEL_KEY) == first["version"].encode()


def test_too_few_answers_is_skipped(settings: Settings, db: Database, redis_url: str) -> None:
    course = seed_course(db)
    rt = runtime(settings, db, redis_url, untrained(10, 3))
    assert retrain_deployment(rt, course.deployment_id)["skipped"]
