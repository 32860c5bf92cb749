"""scores are verified against the LMS's result (the last timestamp sent, what the LMS holds,
when it was checked, automatic repairs); answers keep their partial credit

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score_passback") as batch:
        batch.add_column(sa.Column("sent_timestamp", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lms_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("repairs", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))
    # Rows posted before: what was sent carried the answer's time. A "sent" row was never read
    # back, so it stays "sent" (not verified) until the reconciliation reads it.
    scores = sa.table("score_passback", sa.column("score_timestamp", sa.DateTime(timezone=True)),
                      sa.column("sent_timestamp", sa.DateTime(timezone=True)),
                      sa.column("sent_at", sa.DateTime(timezone=True)))
    op.execute(scores.update().where(scores.c.sent_at.is_not(None))
               .values(sent_timestamp=scores.c.score_timestamp))

    with op.batch_alter_table("answer") as batch:
        batch.add_column(sa.Column("credit", sa.Float(), nullable=False,
                                   server_default=sa.text("0")))
    answers = sa.table("answer", sa.column("correct", sa.Boolean()),
                       sa.column("credit", sa.Float()))
    op.execute(answers.update().where(answers.c.correct.is_(True)).values(credit=1.0))


def downgrade() -> None:
    with op.batch_alter_table("answer") as batch:
        batch.drop_column("credit")
    scores = sa.table("score_passback", sa.column("status", sa.String()))
    op.execute(scores.update().where(scores.c.status.in_(["verified", "mismatch"]))
               .values(status="sent"))
    with op.batch_alter_table("score_passback") as batch:
        batch.drop_column("repairs")
        batch.drop_column("verified_at")
        batch.drop_column("checked_at")
        batch.drop_column("lms_score")
        batch.drop_column("sent_timestamp")
