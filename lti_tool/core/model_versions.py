"""Which student-model version the workers serve, and promotion.

The database is the record (ModelVersion rows); Redis carries the active version to running
workers, which re-check it once per batch, so a promotion takes effect without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy import select, update

from lti_tool.core.db import Database
from lti_tool.core.db.models import ModelStatus, ModelVersion

ACTIVE_MODEL_KEY = "metis:model:active-version"
# What workers serve before any model was promoted: meta_engine's shipped model.
DEFAULT_VERSION = "default"


@dataclass(frozen=True)
class ActiveModel:
    version: str
    path: str | None  # None: the built-in default


def active_model(db: Database) -> ActiveModel:
    """The promoted model, or the built-in default."""
    with db.session() as s:
        row = s.scalars(
            select(ModelVersion)
            .where(ModelVersion.status == ModelStatus.active)
            .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
            .limit(1)
        ).first()
        return ActiveModel(row.version, row.path) if row else ActiveModel(DEFAULT_VERSION, None)


def checkpoint_path(db: Database, version: str) -> str | None:
    if version == DEFAULT_VERSION:
        return None
    with db.session() as s:
        return s.scalar(select(ModelVersion.path).where(ModelVersion.version == version))


def promote(db: Database, client: redis.Redis | None, version: str) -> None:
    """Make `version` the active model; running workers pick it up on their next batch."""
    with db.session() as s:
        row = s.scalars(select(ModelVersion).where(ModelVersion.version == version)).first()
        if row is None:
            raise LookupError(f"no model version {version!r}")
        s.execute(
            update(ModelVersion)
            .where(ModelVersion.status == ModelStatus.active, ModelVersion.id != row.id)
            .values(status=ModelStatus.retired)
        )
        row.status = ModelStatus.active
        row.promoted_at = datetime.now(UTC)
    if client is not None:
        client.set(ACTIVE_MODEL_KEY, version)
