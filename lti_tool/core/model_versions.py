"""Which student-model version serves which deployment, and promotion.

A model retrained on one deployment's answers serves that deployment only (its ModelVersion
row names the deployment); a model without a deployment (e.g. one an admin imported and
promoted) serves every deployment that has none of its own; with neither, the workers serve
meta_engine's shipped default. The database is the record; Redis carries the map to running
workers (one hash, read once per batch), so a promotion takes effect without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy import select, update

from lti_tool.core.db import Database
from lti_tool.core.db.models import ModelStatus, ModelVersion

# Hash: deployment id (ALL_DEPLOYMENTS for a model without one) -> active version.
ACTIVE_MODEL_KEY = "metis:model:active-versions"
ALL_DEPLOYMENTS = "*"
# What workers serve before any model was promoted: meta_engine's shipped model.
DEFAULT_VERSION = "default"


@dataclass(frozen=True)
class ActiveModel:
    version: str
    path: str | None  # None: the built-in default
    deployment_id: int | None = None


def field_of(deployment_id: int | None) -> str:
    return ALL_DEPLOYMENTS if deployment_id is None else str(deployment_id)


def active_models(db: Database) -> dict[str, ActiveModel]:
    """The promoted model of each deployment that has one (ALL_DEPLOYMENTS: the model for
    every other deployment), newest promotion first when the record holds two."""
    out: dict[str, ActiveModel] = {}
    with db.session() as s:
        rows = s.scalars(
            select(ModelVersion)
            .where(ModelVersion.status == ModelStatus.active)
            .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        )
        for row in rows:
            out.setdefault(field_of(row.deployment_id),
                           ActiveModel(row.version, row.path, row.deployment_id))
    return out


def active_model(db: Database, deployment_id: int | None = None) -> ActiveModel:
    """The model that serves `deployment_id`: its own, else the all-deployments one, else
    the built-in default."""
    models = active_models(db)
    return (models.get(field_of(deployment_id)) or models.get(ALL_DEPLOYMENTS)
            or ActiveModel(DEFAULT_VERSION, None))


def announce(db: Database, client: redis.Redis) -> dict[str, str]:
    """Write the database's map to Redis for the workers; returns it."""
    mapping = {k: m.version for k, m in active_models(db).items()}
    pipe = client.pipeline()
    pipe.delete(ACTIVE_MODEL_KEY)
    fields: dict[str | bytes, str | bytes] = {ALL_DEPLOYMENTS: DEFAULT_VERSION}
    fields.update(mapping)
    pipe.hset(ACTIVE_MODEL_KEY, mapping=fields)  # type: ignore[arg-type]
    pipe.execute()
    return mapping


def checkpoint_path(db: Database, version: str) -> str | None:
    if version == DEFAULT_VERSION:
        return None
    with db.session() as s:
        return s.scalar(select(ModelVersion.path).where(ModelVersion.version == version))


def promote(db: Database, client: redis.Redis | None, version: str) -> None:
    """Make `version` the active model of its deployment (of every deployment without its
    own when it has none); running workers pick it up on their next batch."""
    with db.session() as s:
        row = s.scalars(select(ModelVersion).where(ModelVersion.version == version)).first()
        if row is None:
            raise LookupError(f"no model version {version!r}")
        same_scope = (ModelVersion.deployment_id.is_(None) if row.deployment_id is None
                      else ModelVersion.deployment_id == row.deployment_id)
        s.execute(
            update(ModelVersion)
            .where(ModelVersion.status == ModelStatus.active, ModelVersion.id != row.id,
                   same_scope)
            .values(status=ModelStatus.retired)
        )
        row.status = ModelStatus.active
        row.promoted_at = datetime.now(UTC)
    if client is not None:
        announce(db, client)
