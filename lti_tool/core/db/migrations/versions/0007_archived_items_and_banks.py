"""questions and banks deleted by a teacher are archived (a timestamp), not removed, so that
answers already given keep their question

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("item_bank") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_bank") as batch:
        batch.drop_column("archived_at")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("archived_at")
