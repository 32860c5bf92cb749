"""Periodic work: re-sending forgotten passbacks, retraining per deployment, promotion."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Answer,
    GradeEvent,
    Item,
    ModelStatus,
    ModelVersion,
    PassbackStatus,
    ScorePassback,
)
from lti_tool.core.model_versions import promote
from workers.engine_adapter import course_key

if TYPE_CHECKING:
    from workers.process import Runtime

log = logging.getLogger("metis.maintenance")

STALE_PASSBACK = timedelta(minutes=2)
MIN_ANSWERS = 500
MIN_STUDENTS = 20


def stale_passbacks(db: Database, *, now: datetime | None = None) -> list[int]:
    """Pending scores whose task was lost (e.g. the worker died after storing the set)."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        return list(
            s.scalars(
                select(ScorePassback.id).where(
                    ScorePassback.status == PassbackStatus.pending,
                    ScorePassback.updated_at < now - STALE_PASSBACK,
                )
            )
        )


def answer_records(db: Database, deployment_id: int) -> list[dict[str, Any]]:
    """The answer log of one deployment, in meta_engine's record format."""
    with db.session() as s:
        rows = s.execute(
            select(Answer.user_id, Answer.item_id, Item.skill_ids, Answer.correct,
                   Answer.answered_at)
            .join(GradeEvent, GradeEvent.answer_id == Answer.id)
            .join(Item, Item.id == Answer.item_id)
            .where(GradeEvent.deployment_id == deployment_id)
        )
        return [
            {"student": str(u), "item": i, "skills": list(sk or []), "correct": c,
             "timestamp": at}
            for u, i, sk, c, at in rows
        ]


def _share(student: str, salt: str) -> int:
    return hashlib.sha256(f"{salt}:{student}".encode()).digest()[0]


def split(records: list[dict[str, Any]]) -> tuple[list, list, list]:
    """Train / validation (early stopping) / held-out (the promotion gate) by student: about
    65 / 15 / 20 %, stable across runs, so the gate never sees a student the candidate saw."""
    parts: tuple[list, list, list] = ([], [], [])
    for r in records:
        student = str(r["student"])
        if _share(student, "gate") < 52:
            parts[2].append(r)
        elif _share(student, "valid") < 48:
            parts[1].append(r)
        else:
            parts[0].append(r)
    return parts


def retrain_deployment(rt: Runtime, deployment_id: int, **overrides: Any) -> dict[str, Any]:
    """Train a model for this deployment only (the serving core fine-tuned with the
    deployment's own tables), and promote it for this deployment if, serving the deployment's
    held-out students in time order through the workers' own path (`served_auc`), it predicts
    at least as well as the model serving the deployment now. `overrides`: training settings
    (MetisConfig fields, e.g. max_epochs); training is bounded by epochs, not wall time."""
    from meta_engine.api import save_model
    from meta_engine.course_models import served_auc, train_course_model
    from meta_engine.data.answer_log import dataset_from_answer_log

    records = answer_records(rt.db, deployment_id)
    students = {r["student"] for r in records}
    if len(records) < MIN_ANSWERS or len(students) < MIN_STUDENTS:
        return {"deployment": deployment_id, "skipped": "not enough answers yet"}
    n_items = max(int(r["item"]) for r in records)
    n_skills = max((int(s) for r in records for s in r["skills"]), default=1)
    train, valid, held_out = (dataset_from_answer_log(part, n_items=n_items, n_skills=n_skills)
                              for part in split(records))
    course = course_key(deployment_id)
    rt.refresh()
    serving = rt.model_for(deployment_id)
    # Unique even for two retrains within a second (the column is unique).
    version = f"dep{deployment_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    candidate, card = train_course_model(train, valid, course, base=rt.default_model(),
                                         version=version, **overrides)
    candidate_auc = served_auc(candidate, held_out, course)
    active_auc = served_auc(serving, held_out, course)
    path = save_model(candidate, str(rt.settings.data_dir / "models"),
                      {**card, "version": version})
    metrics = {"held_out_auc": candidate_auc, "active_auc_same_students": active_auc,
               "active_version": serving.version, "answers": len(records),
               "valid_auc": card["valid"].get("valid_auc")}
    with rt.db.session() as s:
        s.add(ModelVersion(version=version, path=str(path), deployment_id=deployment_id,
                           metrics=metrics, status=ModelStatus.candidate))
    promoted = bool(candidate_auc >= active_auc)
    if promoted:
        promote(rt.db, rt.redis, version)
    else:
        with rt.db.session() as s:
            s.execute(update(ModelVersion).where(ModelVersion.version == version)
                      .values(status=ModelStatus.rejected))
    return {"deployment": deployment_id, "version": version, "promoted": promoted, **metrics}


def retrain_all(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.session() as s:
        deployments = sorted(d for d in s.scalars(
            select(GradeEvent.deployment_id).where(GradeEvent.deployment_id.is_not(None))
            .distinct()) if d is not None)
    return [retrain_deployment(rt, d) for d in deployments]
