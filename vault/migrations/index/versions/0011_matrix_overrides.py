"""The patient's overrides of the authorisation matrix (issue 16, item 6; ADR 0038): a
document category opened to, or closed from, one professional of one dossier.

Revision 0011, after 0010. One new table, nothing rewritten: safe to apply while the
previous version serves (it never reads it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "matrix_overrides",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("dossier_id", "subject", "category"),
    )


def downgrade() -> None:
    op.drop_table("matrix_overrides")
