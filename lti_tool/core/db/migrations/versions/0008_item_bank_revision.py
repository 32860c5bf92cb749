"""a bank's revision: a new random token whenever one of its questions (or the bank) changes,
so a worker may keep a bank it loaded while the token stands

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for the banks that exist now: never cached until their next change.
    with op.batch_alter_table("item_bank") as batch:
        batch.add_column(sa.Column("revision", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_bank") as batch:
        batch.drop_column("revision")
