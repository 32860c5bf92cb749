"""a resource link belongs to its (platform, deployment, course): the deployment joins the
link's key, so another course naming the same link id gets its own row

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resource_link") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_resource_link_deployment_id_deployment"),
                                 "deployment", ["deployment_id"], ["id"], ondelete="SET NULL")
        batch.drop_constraint(op.f("uq_resource_link_platform_id"), type_="unique")
        batch.create_unique_constraint(
            "uq_resource_link_placement",
            ["platform_id", "deployment_id", "context_id", "resource_link_id"])
    # Existing links take the deployment of their latest launch, else their course's.
    links = sa.table("resource_link", sa.column("id", sa.Integer()),
                     sa.column("context_id", sa.Integer()),
                     sa.column("deployment_id", sa.Integer()))
    launches = sa.table("launch", sa.column("id", sa.Integer()),
                        sa.column("resource_link_id", sa.Integer()),
                        sa.column("deployment_id", sa.Integer()))
    contexts = sa.table("context", sa.column("id", sa.Integer()),
                        sa.column("deployment_id", sa.Integer()))
    latest = (sa.select(launches.c.deployment_id)
              .where(launches.c.resource_link_id == links.c.id)
              .order_by(launches.c.id.desc()).limit(1).scalar_subquery())
    course = (sa.select(contexts.c.deployment_id)
              .where(contexts.c.id == links.c.context_id).scalar_subquery())
    bind = op.get_bind()
    bind.execute(links.update().values(deployment_id=sa.func.coalesce(latest, course)))


def downgrade() -> None:
    with op.batch_alter_table("resource_link") as batch:
        batch.drop_constraint("uq_resource_link_placement", type_="unique")
        batch.create_unique_constraint(op.f("uq_resource_link_platform_id"),
                                       ["platform_id", "resource_link_id"])
        batch.drop_constraint(op.f("fk_resource_link_deployment_id_deployment"),
                              type_="foreignkey")
        batch.drop_column("deployment_id")
