"""The periodic retrain: a model trained on one deployment's stored answers is promoted for that
deployment only, and only when, serving the deployment's held-out students through the workers'
path, it predicts no worse than the model serving them now."""

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
from lti_tool.core.model_versions import ACTIVE_MODEL_KEY, DEFAULT_VERSION
from lti_tool.settings import Settings
from meta_engine.api import Model
from tests.support.course import Course, seed_course
from workers.engine_adapter import course_key
from workers.maintenance import retrain_deployment
from workers.process import Runtime

pytestmark = pytest.mark.slow

FAST = {"max_epochs": 3, "patience": 2}


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


def runtime(settings: Settings, db: Database, redis_url: str, serving: Model) -> Runtime:
    """A worker runtime whose model for every deployment is `serving` (no load)."""
    rt = Runtime(settings=settings, db=db, redis=redis.Redis.from_url(redis_url))
    rt._models[DEFAULT_VERSION] = serving
    return rt


def untrained() -> Model:
    """A core with all weights zero that cannot adapt to a student (no inner steps): only the
    course tables it fits online tell answers apart."""
    import torch

    from meta_engine.api import Model
    from meta_engine.model.student import MetisConfig, MetisNet

    net = MetisNet(MetisConfig(n_items=0, n_skills=0, inner_steps=0)).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    return Model(net, net.calib_a.device, {}, "untrained")


def test_promoted_for_its_deployment_when_better_then_a_worse_one_is_rejected(
    settings: Settings, db: Database, redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"data_dir": tmp_path})
    course = simulated_course(db)
    rt = runtime(settings, db, redis_url, untrained())

    first = retrain_deployment(rt, course.deployment_id, **FAST)
    assert first["promoted"] is True, first
    # The zero core still learns the course's item difficulties online; the candidate also
    # learned how these students learn.
    assert first["held_out_auc"] > first["active_auc_same_students"], first
    assert first["held_out_auc"] > 0.7
    with db.session() as s:
        row = s.scalars(select(ModelVersion).where(ModelVersion.version == first["version"])).one()
        assert row.status == ModelStatus.active and row.deployment_id == course.deployment_id
        assert row.metrics["answers"] == first["answers"]
    assert rt.redis.hget(ACTIVE_MODEL_KEY, str(course.deployment_id)) == first["version"].encode()
    rt.refresh()  # the worker picks the promotion up, for this deployment only
    assert rt.model_for(course.deployment_id).version == first["version"]
    assert rt.model_for(course.deployment_id).card["course"] == course_key(course.deployment_id)
    assert rt.model_for(course.deployment_id + 1).version == "untrained"

    # A candidate that cannot learn (learning rate 0, no steps) is worse than the promoted one.
    second = retrain_deployment(rt, course.deployment_id,
                                **{**FAST, "lr": 0.0, "max_epochs": 1, "inner_steps": 0})
    assert second["promoted"] is False, second
    assert second["held_out_auc"] < second["active_auc_same_students"]
    assert second["active_version"] == first["version"]
    with db.session() as s:
        statuses = {v.version: v.status for v in s.scalars(select(ModelVersion))}
    assert statuses == {first["version"]: ModelStatus.active,
                        second["version"]: ModelStatus.rejected}
    assert rt.redis.hget(ACTIVE_MODEL_KEY, str(course.deployment_id)) == first["version"].encode()


def test_too_few_answers_is_skipped(settings: Settings, db: Database, redis_url: str) -> None:
    course = seed_course(db)
    rt = runtime(settings, db, redis_url, untrained())
    assert retrain_deployment(rt, course.deployment_id)["skipped"]
