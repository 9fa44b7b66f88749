"""The notice that a deletion request was carried out (issue 15, item 6): who held a
dossier destroyed at their request, so that they alone read its last notice.

Revision 0013, after 0012. One new table, nothing rewritten: safe to apply while the
previous version serves (it never reads it, and destroys dossiers without receipts).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deletion_receipts",
        sa.Column("dossier_id", sa.Uuid(), nullable=False),
        sa.Column("patient_index", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kept_until_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"]),
        sa.PrimaryKeyConstraint("dossier_id"),
    )
    op.create_index("ix_deletion_receipts_kept_until_us", "deletion_receipts", ["kept_until_us"])


def downgrade() -> None:
    op.drop_index("ix_deletion_receipts_kept_until_us", table_name="deletion_receipts")
    op.drop_table("deletion_receipts")
