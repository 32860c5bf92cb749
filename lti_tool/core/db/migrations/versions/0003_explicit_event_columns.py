"""grade events name their deployment and resource link in columns; practice sets keep only
their stage timings; activity settings are stored at version 2 (explicit grading policy)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def upgrade() -> None:
    from lti_tool.core.activities import upgraded_settings_json
    from lti_tool.core.db.models import Activity

    with op.batch_alter_table("grade_event") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resource_link_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_grade_event_deployment_id_deployment"),
                                 "deployment", ["deployment_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key(op.f("fk_grade_event_resource_link_id_resource_link"),
                                 "resource_link", ["resource_link_id"], ["id"],
                                 ondelete="SET NULL")
    bind = op.get_bind()
    events = sa.table("grade_event", sa.column("event_id", sa.String()),
                      sa.column("payload", sa.JSON()), sa.column("deployment_id", sa.Integer()),
                      sa.column("resource_link_id", sa.Integer()))
    for event_id, payload in bind.execute(sa.select(events.c.event_id, events.c.payload)).all():
        data = _json(payload)
        bind.execute(events.update().where(events.c.event_id == event_id).values(
            deployment_id=data.get("deployment_id"),
            resource_link_id=data.get("resource_link_id")))
    with op.batch_alter_table("grade_event") as batch:
        batch.drop_column("payload")

    with op.batch_alter_table("practice_set") as batch:
        batch.add_column(sa.Column("timings_ms", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.drop_column("state")

    # Settings from before versions existed are rewritten as what they meant, explicitly.
    activities = sa.table("activity", sa.column("id", sa.Integer()),
                          sa.column("title", sa.String()), sa.column("points", sa.Float()),
                          sa.column("bank_id", sa.Integer()), sa.column("settings", sa.JSON()))
    for row in bind.execute(sa.select(activities)).all():
        stored = Activity(title=row.title, points=row.points, bank_id=row.bank_id,
                          settings=_json(row.settings))
        bind.execute(activities.update().where(activities.c.id == row.id)
                     .values(settings=upgraded_settings_json(stored)))


def downgrade() -> None:
    with op.batch_alter_table("practice_set") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.drop_column("timings_ms")
    with op.batch_alter_table("grade_event") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.drop_constraint(op.f("fk_grade_event_resource_link_id_resource_link"),
                              type_="foreignkey")
        batch.drop_constraint(op.f("fk_grade_event_deployment_id_deployment"),
                              type_="foreignkey")
        batch.drop_column("resource_link_id")
        batch.drop_column("deployment_id")
