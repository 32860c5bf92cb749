"""Periodic work: re-sending forgotten passbacks, re-meta-training per deployment, promotion."""

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


def _held_out(student: str) -> bool:
    return hashlib.sha256(student.encode()).digest()[0] < 52  # about 20% of students


def retrain_deployment(rt: Runtime, deployment_id: int, **train_opts: Any) -> dict[str, Any]:
    """Meta-train a candidate on this deployment's answers; promote it only if its held-out AUC
    is no worse than the active model's on the same held-out students. `train_opts` go to
    meta_train (e.g. max_minutes, max_epochs)."""
    import numpy as np

    from meta_engine.checkpoint import save_checkpoint
    from meta_engine.data.answer_log import dataset_from_answer_log
    from meta_engine.metrics import auc as auc_of
    from meta_engine.train import meta_train, predict_dataset
    from workers.engine_adapter import DB_ID_SPACE

    records = answer_records(rt.db, deployment_id)
    students = {r["student"] for r in records}
    if len(records) < MIN_ANSWERS or len(students) < MIN_STUDENTS:
        return {"deployment": deployment_id, "skipped": "not enough answers yet"}
    n_items = max(int(r["item"]) for r in records)
    n_skills = max((int(s) for r in records for s in r["skills"]), default=1)
    train = dataset_from_answer_log([r for r in records if not _held_out(r["student"])],
                                    n_items=n_items, n_skills=n_skills)
    valid = dataset_from_answer_log([r for r in records if _held_out(r["student"])],
                                    n_items=n_items, n_skills=n_skills)
    opts: dict[str, Any] = {"max_minutes": 20.0, **train_opts}
    net, report = meta_train(train, valid, progress=False, **opts)
    y = np.concatenate([s.correct for s in valid.sequences]).astype(np.float64)
    candidate_auc = float(report.valid_auc)
    active = rt.engine()
    active_net = getattr(getattr(active, "model", None), "net", None)
    active_auc = -1.0
    if active_net is not None:
        try:
            p = np.concatenate(predict_dataset(active_net, valid))
            active_auc = float(auc_of(y, p))
        except Exception as exc:  # noqa: BLE001 - an incompatible active model is "worse"
            log.warning("active model cannot score deployment %s: %s", deployment_id, exc)
    # Unique even for two retrains within a second (the column is unique).
    version = f"dep{deployment_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    card = {"id_space": DB_ID_SPACE, **report.to_dict()}
    path = save_checkpoint(net, rt.settings.data_dir / "models", card, version)
    metrics = {"valid_auc": candidate_auc, "valid_ece": report.valid_ece,
               "active_auc_same_students": active_auc, "answers": len(records)}
    with rt.db.session() as s:
        s.add(ModelVersion(version=version, path=str(path), deployment_id=deployment_id,
                           metrics=metrics, status=ModelStatus.candidate))
    promoted = candidate_auc >= active_auc
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
