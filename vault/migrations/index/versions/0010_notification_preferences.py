"""The holder's notification preferences (issue 15, item 9): whether they are told of
each new document deposited in their dossier.

Revision 0010, after 0009. One new table, nothing rewritten: safe to apply while the
previous version serves (it never reads it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("new_documents", sa.Boolean(), nullable=False),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("dossier_id"),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
