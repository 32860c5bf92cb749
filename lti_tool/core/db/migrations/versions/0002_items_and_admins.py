"""item names, categories, hints and solutions; local admin accounts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("name", sa.String(length=255), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("category", sa.String(length=1000), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("hints", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("solution", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "admin_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_account")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_account_username")),
    )


def downgrade() -> None:
    op.drop_table("admin_account")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("solution")
        batch.drop_column("hints")
        batch.drop_column("category")
        batch.drop_column("name")
